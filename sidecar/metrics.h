#ifndef PAT_SIDECAR_METRICS_H_
#define PAT_SIDECAR_METRICS_H_

// The sidecar uses the project's one Prometheus-text registry
// (common/metrics.h), shared with the authority.
#include "common/metrics.h"

namespace pat::sidecar {

using ::pat::Counter;
using ::pat::DefaultLatencyBuckets;
using ::pat::Gauge;
using ::pat::Histogram;
using ::pat::Labels;
using ::pat::MetricsRegistry;

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_METRICS_H_
