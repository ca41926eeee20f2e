#include "sidecar/credentials.h"

#include <iterator>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "sidecar/front_text.h"

namespace pat::sidecar {
namespace {

absl::string_view AV(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

const std::string* KnownName(absl::string_view name,
                             absl::Span<const std::string> known) {
  for (const std::string& k : known) {
    if (internal::LooseNameEquals(name, k)) return &k;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> KnownCredentialHeaders(
    absl::Span<const std::string> configured) {
  std::vector<std::string> out;
  const auto add = [&out](absl::string_view name) {
    std::string lower = absl::AsciiStrToLower(name);
    if (!absl::c_linear_search(out, lower)) out.push_back(std::move(lower));
  };
  for (absl::string_view name : kBuiltinCredentialHeaders) add(name);
  for (const std::string& name : configured) add(name);
  return out;
}

CollectedCredentials CollectCredentials(
    const boost::beast::http::fields& fields,
    absl::Span<const std::string> known) {
  CollectedCredentials out;
  for (const auto& f : fields) {
    const absl::string_view name = AV(f.name_string());
    if (const std::string* k = KnownName(name, known)) {
      out.values.emplace_back(*k, AV(f.value()));
      continue;
    }
    if (internal::ContainsSecretShaped(AV(f.value())) ||
        internal::ContainsSecretShaped(name)) {
      out.stray_secret = true;
    }
  }
  return out;
}

std::string RequestIdFor(const boost::beast::http::fields& fields) {
  auto range = fields.equal_range("X-Request-Id");
  if (range.first != range.second && std::next(range.first) == range.second &&
      internal::IsValidRequestId(AV(range.first->value()))) {
    return std::string(AV(range.first->value()));
  }
  return internal::NewRequestId();
}

}  // namespace pat::sidecar
