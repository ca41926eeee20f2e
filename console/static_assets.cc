#include "console/static_assets.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pat::console {

// Defined in the generated embedded_assets.cc.
extern const EmbeddedFile kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

namespace {

std::string ContentTypeOf(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  if (absl::EndsWith(name, ".png")) return "image/png";
  return "application/octet-stream";
}

}  // namespace

StaticAssets StaticAssets::Embedded() {
  StaticAssets out;
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    const EmbeddedFile& f = kEmbeddedAssets[i];
    out.files_[f.name] =
        Asset{ContentTypeOf(f.name),
              std::string(reinterpret_cast<const char*>(f.data), f.size)};
  }
  return out;
}

absl::StatusOr<StaticAssets> StaticAssets::FromDirectory(
    const std::string& dir) {
  StaticAssets out;
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    const std::string name = kEmbeddedAssets[i].name;
    std::ifstream in(absl::StrCat(dir, "/", name), std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("--assets_dir: cannot read ", dir, "/", name));
    }
    std::ostringstream body;
    body << in.rdbuf();
    out.files_[name] = Asset{ContentTypeOf(name), body.str()};
  }
  return out;
}

const Asset* StaticAssets::Find(absl::string_view target) const {
  std::string name;
  if (target == "/") {
    name = "index.html";
  } else if (absl::ConsumePrefix(&target, "/assets/") &&
             target != "index.html") {
    name = std::string(target);
  } else {
    return nullptr;
  }
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace pat::console
