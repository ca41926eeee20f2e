#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pat {
namespace {

// Finite, sorted, de-duplicated bucket bounds (+Inf is implicit).
std::vector<double> NormalizeBounds(std::vector<double> bounds) {
  bounds.erase(std::remove_if(bounds.begin(), bounds.end(),
                              [](double b) { return !std::isfinite(b); }),
               bounds.end());
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

// Shortest round-trip representation in %g style (as Prometheus' own
// clients write bounds), e.g. "1e-06", "0.0001", "0.0025", "10".
std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general);
  if (ec != std::errc()) return absl::StrCat(v);
  return std::string(buf, end);
}

// Label values: backslash, double quote and newline are escaped.
void AppendLabelValue(std::string& out, absl::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// HELP text: backslash and newline are escaped.
std::string EscapeHelp(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` (with `extra` appended as the last label, if given), or ""
// when there are no labels at all.
std::string RenderLabels(
    const Labels& labels,
    const std::pair<absl::string_view, absl::string_view>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](absl::string_view k, absl::string_view v) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, k, "=\"");
    AppendLabelValue(out, v);
    out += '"';
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (extra != nullptr) add(extra->first, extra->second);
  out += '}';
  return out;
}

Labels NormalizeLabels(const Labels& labels) {
  Labels sorted = labels;
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  return sorted;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(NormalizeBounds(std::move(upper_bounds))),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // negative or NaN
  // Prometheus buckets are "less than or equal": the first bound >= value.
  const size_t index = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
      bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  // Clamp so that a silly value cannot overflow the nanosecond sum.
  const double nanos = std::min(seconds * 1e9, 1e15);
  sum_nanos_.fetch_add(static_cast<uint64_t>(std::llround(nanos)),
                       std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::sum() const {
  return static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
}

uint64_t Histogram::count() const {
  return count_.load(std::memory_order_relaxed);
}

std::vector<double> DefaultLatencyBuckets() {
  return {1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
          5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,
          0.25, 0.5,    1,      2.5,  5,      10};
}

struct MetricsRegistry::Family {
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::string name;
  std::string help;
  std::string type;  // "counter", "gauge" or "histogram"
  // A family asked for with a type other than the one it was registered
  // with (a programming error): its series work but are never rendered.
  bool conflicting = false;
  std::vector<Series> series;

  Series* Find(const Labels& labels) {
    for (Series& s : series) {
      if (s.labels == labels) return &s;
    }
    return nullptr;
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::GetFamily(absl::string_view name,
                                                    absl::string_view help,
                                                    absl::string_view type) {
  Family* conflict = nullptr;
  for (auto& f : families_) {
    if (f->name != name) continue;
    if (f->type == type) return *f;
    conflict = f.get();
  }
  if (conflict != nullptr) {
    std::fprintf(stderr,
                 "{\"msg\":\"metric registered with two types\","
                 "\"name\":\"%s\"}\n",
                 std::string(name).c_str());
  }
  auto family = std::make_unique<Family>();
  family->name = std::string(name);
  family->help = std::string(help);
  family->type = std::string(type);
  family->conflicting = conflict != nullptr;
  families_.push_back(std::move(family));
  return *families_.back();
}

Counter& MetricsRegistry::GetCounter(absl::string_view name,
                                     absl::string_view help,
                                     const Labels& labels) {
  const Labels key = NormalizeLabels(labels);
  absl::MutexLock lock(&mu_);
  Family& family = GetFamily(name, help, "counter");
  if (Family::Series* s = family.Find(key)) return *s->counter;
  family.series.push_back({key, std::make_unique<Counter>(), nullptr, nullptr});
  return *family.series.back().counter;
}

Gauge& MetricsRegistry::GetGauge(absl::string_view name, absl::string_view help,
                                 const Labels& labels) {
  const Labels key = NormalizeLabels(labels);
  absl::MutexLock lock(&mu_);
  Family& family = GetFamily(name, help, "gauge");
  if (Family::Series* s = family.Find(key)) return *s->gauge;
  family.series.push_back({key, nullptr, std::make_unique<Gauge>(), nullptr});
  return *family.series.back().gauge;
}

Histogram& MetricsRegistry::GetHistogram(absl::string_view name,
                                         absl::string_view help,
                                         const Labels& labels,
                                         std::vector<double> buckets) {
  const Labels key = NormalizeLabels(labels);
  absl::MutexLock lock(&mu_);
  Family& family = GetFamily(name, help, "histogram");
  if (Family::Series* s = family.Find(key)) return *s->histogram;
  family.series.push_back(
      {key, nullptr, nullptr, std::make_unique<Histogram>(std::move(buckets))});
  return *family.series.back().histogram;
}

void MetricsRegistry::AddCollector(std::function<void()> collector) {
  absl::MutexLock lock(&collectors_mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::RenderPrometheus() const {
  {
    absl::MutexLock lock(&collectors_mu_);
    for (const auto& collect : collectors_) collect();
  }
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& f : families_) {
    if (f->conflicting) continue;
    absl::StrAppend(&out, "# HELP ", f->name, " ", EscapeHelp(f->help), "\n");
    absl::StrAppend(&out, "# TYPE ", f->name, " ", f->type, "\n");
    for (const Family::Series& s : f->series) {
      if (s.counter != nullptr) {
        absl::StrAppend(&out, f->name, RenderLabels(s.labels), " ",
                        s.counter->value(), "\n");
      } else if (s.gauge != nullptr) {
        absl::StrAppend(&out, f->name, RenderLabels(s.labels), " ",
                        s.gauge->value(), "\n");
      } else if (s.histogram != nullptr) {
        const Histogram& h = *s.histogram;
        const std::vector<uint64_t> cumulative = h.CumulativeCounts();
        const std::vector<double>& bounds = h.upper_bounds();
        for (size_t i = 0; i < cumulative.size(); ++i) {
          const std::string le =
              i < bounds.size() ? FormatDouble(bounds[i]) : "+Inf";
          const std::pair<absl::string_view, absl::string_view> extra = {"le",
                                                                         le};
          absl::StrAppend(&out, f->name, "_bucket",
                          RenderLabels(s.labels, &extra), " ", cumulative[i],
                          "\n");
        }
        // The count is rendered from the +Inf bucket so that the two always
        // agree even while observations race with rendering.
        const uint64_t nanos =
            static_cast<uint64_t>(std::llround(h.sum() * 1e9));
        absl::StrAppend(
            &out, f->name, "_sum", RenderLabels(s.labels), " ",
            absl::StrFormat("%d.%09d", nanos / 1000000000, nanos % 1000000000),
            "\n");
        absl::StrAppend(&out, f->name, "_count", RenderLabels(s.labels), " ",
                        cumulative.back(), "\n");
      }
    }
  }
  return out;
}

}  // namespace pat
