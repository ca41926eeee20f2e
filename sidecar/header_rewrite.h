#ifndef PAT_SIDECAR_HEADER_REWRITE_H_
#define PAT_SIDECAR_HEADER_REWRITE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "boost/beast/http/fields.hpp"
#include "boost/beast/http/message.hpp"

// Pipeline step 4 of the sidecar's HTTP front: the header rewrite, pure (no
// sockets, no state): the client's request head in, the upstream's out; and
// the upstream response's head in, the client's out, each written to a
// HeadSink (the wire bytes, or a Beast message for a streamed body).
namespace pat::sidecar {

// Routing headers that upstream frameworks honour to serve another endpoint,
// method or host than the request line names (also matched in their '_'
// spellings). Stripped unless allowed by name (--allow_routing_headers).
inline constexpr absl::string_view kRoutingHeaders[] = {
    "x-original-url",     "x-rewrite-url",     "x-http-method-override",
    "x-http-method",      "x-method-override", "x-forwarded-host",
    "x-forwarded-prefix", "x-forwarded-proto", "x-forwarded-port",
    "x-forwarded-scheme", "x-forwarded-server", "x-original-host",
    "x-host",             "forwarded",
};

// True when `name` is one of kRoutingHeaders (ignoring case and '_' vs '-').
bool IsRoutingHeader(absl::string_view name);

struct RewritePolicy {
  // Lower-case credential header names (KnownCredentialHeaders).
  absl::Span<const std::string> credential_headers;
  // Lower-case routing header names that pass through.
  absl::Span<const std::string> allowed_routing_headers;
};

// What the sidecar tells the upstream about the request.
struct UpstreamIdentity {
  absl::string_view token_id;   // X-Pat-Token-Id (omitted when empty)
  absl::string_view plan_id;    // X-Pat-Plan-Id (omitted when empty)
  absl::string_view request_id; // X-Request-Id
  absl::string_view client_ip;  // appended to X-Forwarded-For
  absl::string_view default_host;  // Host when the client sent none
};

// Where a rewritten head goes: its start line, then its fields in order.
// Two sinks exist: WireHeadWriter (wire_head.h), the head's bytes for a
// message written whole (the steady-state path: no second `fields`), and
// MessageSink below, a Beast message for the serializer of a streamed body.
// The same rewrite feeds both, so their bytes cannot differ
// (wire_head_test, the front fuzzer).
class HeadSink {
 public:
  virtual void RequestLine(absl::string_view method, absl::string_view target,
                           unsigned version) = 0;
  virtual void StatusLine(unsigned version, unsigned status,
                          absl::string_view reason) = 0;
  // `name_string` is written as given; `name` is its known enum or
  // field::unknown.
  virtual void Field(boost::beast::http::field name,
                     absl::string_view name_string,
                     absl::string_view value) = 0;

 protected:
  ~HeadSink() = default;
};

namespace internal {
// Appends a field; a `name` of field::unknown is looked up from
// `name_string`, so the field is found by its enum as if set by name.
inline void InsertField(boost::beast::http::fields& out,
                        boost::beast::http::field name,
                        absl::string_view name_string,
                        absl::string_view value) {
  const boost::beast::string_view n(name_string.data(), name_string.size());
  const boost::beast::string_view v(value.data(), value.size());
  if (name == boost::beast::http::field::unknown) {
    out.insert(n, v);
  } else {
    out.insert(name, n, v);
  }
}
}  // namespace internal

// Fills a Beast message (start line and fields appended).
template <bool isRequest, typename Body>
class MessageSink final : public HeadSink {
 public:
  explicit MessageSink(boost::beast::http::message<isRequest, Body>& m)
      : m_(m) {}
  void RequestLine(absl::string_view method, absl::string_view target,
                   unsigned version) override {
    if constexpr (isRequest) {
      m_.method_string({method.data(), method.size()});
      m_.target({target.data(), target.size()});
      m_.version(version);
    }
  }
  void StatusLine(unsigned version, unsigned status,
                  absl::string_view reason) override {
    if constexpr (!isRequest) {
      m_.version(version);
      m_.result(status);
      m_.reason({reason.data(), reason.size()});
    }
  }
  void Field(boost::beast::http::field name, absl::string_view name_string,
             absl::string_view value) override {
    internal::InsertField(m_, name, name_string, value);
  }

 private:
  boost::beast::http::message<isRequest, Body>& m_;
};

// Writes to `out` every field of `in` that the upstream may see, then the
// sidecar's own. Removed: hop-by-hop fields (RFC 9110 §7.6.1) and those
// nominated by Connection; Content-Length, Transfer-Encoding and Expect (the
// caller frames the body); every credential header; client-sent X-Pat-*,
// X-Request-Id and X-Forwarded-For (replaced); routing headers not allowed;
// any field whose value is secret-shaped (the front refuses such requests
// before; this is the last line). Names the sidecar sets or strips are
// matched ignoring case and '_' vs '-'.
void RewriteRequestHeaders(const boost::beast::http::fields& in,
                           const RewritePolicy& policy,
                           const UpstreamIdentity& identity, HeadSink& out);
// The same, appended to a `fields`.
void RewriteRequestHeaders(const boost::beast::http::fields& in,
                           const RewritePolicy& policy,
                           const UpstreamIdentity& identity,
                           boost::beast::http::fields& out);

// Writes to `out` the upstream response's fields the client may see:
// without hop-by-hop fields, Content-Length (the caller frames the body) and
// any field whose value is secret-shaped. True when an X-Request-Id was
// written.
bool RewriteResponseHeaders(const boost::beast::http::fields& in,
                            HeadSink& out);
// The same, appended to a `fields`.
void RewriteResponseHeaders(const boost::beast::http::fields& in,
                            boost::beast::http::fields& out);

// How a message's body is framed on the way out.
struct BodyFraming {
  enum class Kind {
    kNone,      // no framing field (no body, or HTTP/1.0 close-delimited)
    kLength,    // Content-Length: length
    kVerbatim,  // Content-Length: verbatim (a HEAD/304 response's, as sent)
    kChunked,   // Transfer-Encoding: chunked
  };
  static BodyFraming Length(std::uint64_t n) {
    BodyFraming f;
    f.kind = Kind::kLength;
    f.length = n;
    return f;
  }
  static BodyFraming Verbatim(absl::string_view value) {
    BodyFraming f;
    f.kind = Kind::kVerbatim;
    f.verbatim = value;
    return f;
  }
  static BodyFraming Chunked() {
    BodyFraming f;
    f.kind = Kind::kChunked;
    return f;
  }

  Kind kind = Kind::kNone;
  std::uint64_t length = 0;
  absl::string_view verbatim;
};

// The whole head the upstream receives: "METHOD target HTTP/1.1", the
// rewritten fields (RewriteRequestHeaders), then the framing field.
void WriteUpstreamRequestHead(const boost::beast::http::request_header<>& req,
                              const RewritePolicy& policy,
                              const UpstreamIdentity& identity,
                              const BodyFraming& framing, HeadSink& out);

// The whole head the client receives for an upstream response: the status
// line in the client's version with the upstream's status and reason, the
// rewritten fields (RewriteResponseHeaders), the framing field, X-Request-Id
// (`request_id`) unless the upstream sent one, then the Connection field
// that `keep_alive` needs in `version` (none when it is the default).
void WriteClientResponseHead(const boost::beast::http::response_header<>& res,
                             unsigned version, const BodyFraming& framing,
                             absl::string_view request_id, bool keep_alive,
                             HeadSink& out);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_HEADER_REWRITE_H_
