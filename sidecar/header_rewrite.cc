#include "sidecar/header_rewrite.h"

#include <charconv>
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

// A sink for the fields alone (the start line is not a field).
class FieldsSink final : public HeadSink {
 public:
  explicit FieldsSink(http::fields& out) : out_(out) {}
  void RequestLine(absl::string_view, absl::string_view, unsigned) override {}
  void StatusLine(unsigned, unsigned, absl::string_view) override {}
  void Field(http::field name, absl::string_view name_string,
             absl::string_view value) override {
    internal::InsertField(out_, name, name_string, value);
  }

 private:
  http::fields& out_;
};

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
                           const UpstreamIdentity& identity, HeadSink& out) {
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
    out.Field(f.name(), name, value);
  }
  // The sidecar's own fields: every same-named client field was dropped
  // above, so appending them is setting them.
  if (!has_host) out.Field(http::field::host, "Host", identity.default_host);
  if (!identity.token_id.empty()) {
    out.Field(http::field::unknown, "X-Pat-Token-Id", identity.token_id);
  }
  if (!identity.plan_id.empty()) {
    out.Field(http::field::unknown, "X-Pat-Plan-Id", identity.plan_id);
  }
  out.Field(http::field::unknown, "X-Request-Id", identity.request_id);
  absl::StrAppend(&forwarded_for, forwarded_for.empty() ? "" : ", ",
                  identity.client_ip);
  out.Field(http::field::unknown, "X-Forwarded-For", forwarded_for);
}

void RewriteRequestHeaders(const http::fields& in, const RewritePolicy& policy,
                           const UpstreamIdentity& identity,
                           http::fields& out) {
  FieldsSink sink(out);
  RewriteRequestHeaders(in, policy, identity, sink);
}

bool RewriteResponseHeaders(const http::fields& in, HeadSink& out) {
  const bool has_connection = in.count(http::field::connection) > 0;
  bool request_id = false;
  for (const auto& f : in) {
    const absl::string_view name = AV(f.name_string());
    if (IsHopByHop(name) || absl::EqualsIgnoreCase(name, "content-length") ||
        (has_connection && IsNominated(in, name)) ||
        internal::ContainsSecretShaped(AV(f.value()))) {
      continue;
    }
    request_id = request_id || absl::EqualsIgnoreCase(name, "x-request-id");
    out.Field(f.name(), name, AV(f.value()));
  }
  return request_id;
}

void RewriteResponseHeaders(const http::fields& in, http::fields& out) {
  FieldsSink sink(out);
  RewriteResponseHeaders(in, sink);
}

namespace {

void WriteFraming(const BodyFraming& framing, HeadSink& out) {
  switch (framing.kind) {
    case BodyFraming::Kind::kNone:
      return;
    case BodyFraming::Kind::kLength: {
      char digits[24];
      const auto end =
          std::to_chars(digits, digits + sizeof(digits), framing.length).ptr;
      out.Field(http::field::content_length, "Content-Length",
                absl::string_view(digits, end - digits));
      return;
    }
    case BodyFraming::Kind::kVerbatim:
      out.Field(http::field::content_length, "Content-Length",
                framing.verbatim);
      return;
    case BodyFraming::Kind::kChunked:
      out.Field(http::field::transfer_encoding, "Transfer-Encoding", "chunked");
      return;
  }
}

}  // namespace

void WriteUpstreamRequestHead(const http::request_header<>& req,
                              const RewritePolicy& policy,
                              const UpstreamIdentity& identity,
                              const BodyFraming& framing, HeadSink& out) {
  out.RequestLine(AV(req.method_string()), AV(req.target()), 11);
  RewriteRequestHeaders(req, policy, identity, out);
  WriteFraming(framing, out);
}

void WriteClientResponseHead(const http::response_header<>& res,
                             unsigned version, const BodyFraming& framing,
                             absl::string_view request_id, bool keep_alive,
                             HeadSink& out) {
  out.StatusLine(version, res.result_int(), AV(res.reason()));
  const bool has_request_id = RewriteResponseHeaders(res, out);
  WriteFraming(framing, out);
  if (!has_request_id) {
    out.Field(http::field::unknown, "X-Request-Id", request_id);
  }
  // Hop-by-hop Connection fields were dropped: only the version's default
  // needs overriding.
  if (version >= 11 && !keep_alive) {
    out.Field(http::field::connection, "Connection", "close");
  } else if (version < 11 && keep_alive) {
    out.Field(http::field::connection, "Connection", "keep-alive");
  }
}

}  // namespace pat::sidecar
