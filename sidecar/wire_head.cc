#include "sidecar/wire_head.h"

#include <string>

#include "boost/beast/http/status.hpp"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;

absl::string_view AV(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

void AppendVersion(unsigned version, std::string& out) {
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + version / 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + version % 10));
}

void AppendFields(const http::fields& fields, WireHeadWriter& w) {
  for (const auto& f : fields) {
    w.Field(f.name(), AV(f.name_string()), AV(f.value()));
  }
  w.End();
}

}  // namespace

void WireHeadWriter::RequestLine(absl::string_view method,
                                 absl::string_view target, unsigned version) {
  out_.append(method.data(), method.size());
  out_.push_back(' ');
  out_.append(target.data(), target.size());
  out_.push_back(' ');
  AppendVersion(version, out_);
  out_.append("\r\n");
}

void WireHeadWriter::StatusLine(unsigned version, unsigned code,
                                absl::string_view reason) {
  AppendVersion(version, out_);
  out_.push_back(' ');
  out_.push_back(static_cast<char>('0' + code / 100));
  out_.push_back(static_cast<char>('0' + (code / 10) % 10));
  out_.push_back(static_cast<char>('0' + code % 10));
  out_.push_back(' ');
  if (reason.empty()) {
    reason = AV(http::obsolete_reason(static_cast<http::status>(code)));
  }
  out_.append(reason.data(), reason.size());
  out_.append("\r\n");
}

void WireHeadWriter::Field(http::field, absl::string_view name_string,
                           absl::string_view value) {
  out_.append(name_string.data(), name_string.size());
  out_.append(": ");
  out_.append(value.data(), value.size());
  out_.append("\r\n");
}

void WireHeadWriter::End() { out_.append("\r\n"); }

void AppendWireHead(const http::request_header<>& h, std::string& out) {
  WireHeadWriter w(out);
  w.RequestLine(AV(h.method_string()), AV(h.target()), h.version());
  AppendFields(h, w);
}

void AppendWireHead(const http::response_header<>& h, std::string& out) {
  WireHeadWriter w(out);
  w.StatusLine(h.version(), h.result_int(), AV(h.reason()));
  AppendFields(h, w);
}

}  // namespace pat::sidecar
