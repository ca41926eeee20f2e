#include "sidecar/header_rewrite.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sidecar/front_text.h"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;
using internal::LooseNameEquals;

absl::string_view AV(boost::beast::string_view s) {
  return {s.data(), s.size()};
}
boost::beast::string_view BV(absl::string_view s) {
  return {s.data(), s.size()};
}

bool IsHopByHop(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "connection") ||
         absl::EqualsIgnoreCase(name, "keep-alive") ||
         absl::EqualsIgnoreCase(name, "te") ||
         absl::EqualsIgnoreCase(name, "trailer") ||
         absl::EqualsIgnoreCase(name, "trailers") ||
         absl::EqualsIgnoreCase(name, "transfer-encoding") ||
         absl::EqualsIgnoreCase(name, "upgrade") ||
         absl::StartsWithIgnoreCase(name, "proxy-");
}

// True when a Connection field of `fields` nominates `name`.
bool IsNominated(const http::fields& fields, absl::string_view name) {
  auto range = fields.equal_range(http::field::connection);
  for (auto it = range.first; it != range.second; ++it) {
    for (absl::string_view token : absl::StrSplit(AV(it->value()), ',')) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(token), name)) {
        return true;
      }
    }
  }
  return false;
}

bool AnyLooseEquals(absl::string_view name,
                    absl::Span<const std::string> names) {
  for (const std::string& n : names) {
    if (LooseNameEquals(name, n)) return true;
  }
  return false;
}

// True when the request field `name` never reaches the upstream.
bool DropRequestField(absl::string_view name, const RewritePolicy& policy) {
  if (IsHopByHop(name) || absl::EqualsIgnoreCase(name, "content-length") ||
      absl::EqualsIgnoreCase(name, "expect") ||
      internal::LooseNameStartsWith(name, "x-pat-") ||
      LooseNameEquals(name, "x-request-id") ||
      AnyLooseEquals(name, policy.credential_headers)) {
    return true;
  }
  return IsRoutingHeader(name) &&
         !AnyLooseEquals(name, policy.allowed_routing_headers);
}

}  // namespace

bool IsRoutingHeader(absl::string_view name) {
  for (absl::string_view r : kRoutingHeaders) {
    if (LooseNameEquals(name, r)) return true;
  }
  return false;
}

void RewriteRequestHeaders(const http::fields& in, const RewritePolicy& policy,
                           const UpstreamIdentity& identity,
                           http::fields& out) {
  const bool has_connection = in.count(http::field::connection) > 0;
  std::string forwarded_for;
  bool has_host = false;
  for (const auto& f : in) {
    const absl::string_view name = AV(f.name_string());
    const absl::string_view value = AV(f.value());
    if (LooseNameEquals(name, "x-forwarded-for")) {
      if (absl::EqualsIgnoreCase(name, "x-forwarded-for") &&
          !internal::ContainsSecretShaped(value)) {
        absl::StrAppend(&forwarded_for, forwarded_for.empty() ? "" : ", ",
                        value);
      }
      continue;
    }
    if (DropRequestField(name, policy) ||
        (has_connection && IsNominated(in, name)) ||
        internal::ContainsSecretShaped(value) ||
        internal::ContainsSecretShaped(name)) {
      continue;
    }
    if (f.name() == http::field::host) has_host = true;
    out.insert(f.name(), f.name_string(), f.value());
  }
  if (!has_host) out.set(http::field::host, BV(identity.default_host));
  if (!identity.token_id.empty()) {
    out.set("X-Pat-Token-Id", BV(identity.token_id));
  }
  if (!identity.plan_id.empty()) out.set("X-Pat-Plan-Id", BV(identity.plan_id));
  out.set("X-Request-Id", BV(identity.request_id));
  absl::StrAppend(&forwarded_for, forwarded_for.empty() ? "" : ", ",
                  identity.client_ip);
  out.set("X-Forwarded-For", BV(forwarded_for));
}

void RewriteResponseHeaders(const http::fields& in, http::fields& out) {
  const bool has_connection = in.count(http::field::connection) > 0;
  for (const auto& f : in) {
    const absl::string_view name = AV(f.name_string());
    if (IsHopByHop(name) || absl::EqualsIgnoreCase(name, "content-length") ||
        (has_connection && IsNominated(in, name)) ||
        internal::ContainsSecretShaped(AV(f.value()))) {
      continue;
    }
    out.insert(f.name(), f.name_string(), f.value());
  }
}

}  // namespace pat::sidecar
