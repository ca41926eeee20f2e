#include "sidecar/wire_head.h"

#include <string>

#include "boost/beast/http/status.hpp"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;

void AppendFields(const http::fields& fields, std::string& out) {
  for (const auto& f : fields) {
    const auto name = f.name_string();
    const auto value = f.value();
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("\r\n");
}

void AppendVersion(unsigned version, std::string& out) {
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + version / 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + version % 10));
}

}  // namespace

void AppendWireHead(const http::request_header<>& h, std::string& out) {
  const auto method = h.method_string();
  const auto target = h.target();
  out.append(method.data(), method.size());
  out.push_back(' ');
  out.append(target.data(), target.size());
  out.push_back(' ');
  AppendVersion(h.version(), out);
  out.append("\r\n");
  AppendFields(h, out);
}

void AppendWireHead(const http::response_header<>& h, std::string& out) {
  AppendVersion(h.version(), out);
  const unsigned code = h.result_int();
  out.push_back(' ');
  out.push_back(static_cast<char>('0' + code / 100));
  out.push_back(static_cast<char>('0' + (code / 10) % 10));
  out.push_back(static_cast<char>('0' + code % 10));
  out.push_back(' ');
  auto reason = h.reason();
  if (reason.empty()) {
    reason = http::obsolete_reason(static_cast<http::status>(code));
  }
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  AppendFields(h, out);
}

}  // namespace pat::sidecar
