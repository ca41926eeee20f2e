#include "cli/connection.h"

#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/patctl_ux.h"
#include "grpcpp/grpcpp.h"

namespace pat::patctl {
namespace {

// The config file to read: --config, PAT_CONFIG, or the default location
// when it exists ("" for none). `explicit_path` is set when the user named
// one (then a missing file is an error).
std::string ConfigPath(const FlagScan& scan, bool* explicit_path) {
  *explicit_path = true;
  for (const auto& [name, value] : scan.values) {
    if (name == "config") return value;
  }
  if (const char* env = std::getenv("PAT_CONFIG"); env != nullptr && *env) {
    return env;
  }
  *explicit_path = false;
  std::string base;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME");
      xdg != nullptr && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    base = absl::StrCat(home, "/.config");
  } else {
    return "";
  }
  std::string path = absl::StrCat(base, "/patctl/config");
  return access(path.c_str(), F_OK) == 0 ? path : "";
}

}  // namespace

std::string ReadFile(absl::string_view flag, const std::string& path,
                     std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  if (in) contents << in.rdbuf();
  if (!in) {
    *error = absl::StrCat("cannot read --", flag, " file \"",
                          TerminalSafe(path), "\": ", std::strerror(errno));
  }
  return contents.str();
}

std::string ApplyConnectionDefaults(const FlagScan& scan) {
  absl::flat_hash_map<std::string, std::string> defaults;
  bool explicit_path = false;
  const std::string path = ConfigPath(scan, &explicit_path);
  if (!path.empty()) {
    std::string error;
    const std::string text = ReadFile("config", path, &error);
    if (!error.empty()) return error;
    ConfigFile config = ParseConfigFile(text);
    if (!config.error.empty()) {
      return absl::StrCat("config file \"", TerminalSafe(path),
                          "\": ", config.error);
    }
    defaults = std::move(config.values);
  }
  for (absl::string_view key : kConfigKeys) {
    const std::string variable =
        absl::StrCat("PAT_", absl::AsciiStrToUpper(key));
    if (const char* env = std::getenv(variable.c_str());
        env != nullptr && *env != '\0') {
      defaults[key] = env;
    }
  }
  const bool cli_insecure = scan.given.contains("insecure");
  const bool cli_tls =
      scan.given.contains("tls_ca") || scan.given.contains("tls_cert") ||
      scan.given.contains("tls_key") || scan.given.contains("tls_server_name");
  for (const auto& [key, value] : defaults) {
    if (scan.given.contains(key)) continue;
    if (cli_insecure && absl::StartsWith(key, "tls_")) continue;
    if (cli_tls && key == "insecure") continue;
    std::string error;
    if (!absl::FindCommandLineFlag(key)->ParseFrom(value, &error)) {
      return absl::StrCat("setting ", key, " (from PAT_",
                          absl::AsciiStrToUpper(key),
                          " or the config file): ", TerminalSafe(error));
    }
  }
  return "";
}

std::variant<int, std::unique_ptr<Session>> OpenSession(
    absl::flat_hash_set<std::string> given) {
  std::string output = absl::GetFlag(FLAGS_output);
  if (output != "text" && output != "json" && output != "table" &&
      output != "tsv") {
    return UsageError("--output must be text, json, table or tsv");
  }
  absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (timeout <= absl::ZeroDuration()) {
    return UsageError("--timeout must be positive");
  }
  std::string authority = absl::GetFlag(FLAGS_authority);
  std::string actor = absl::GetFlag(FLAGS_actor);
  if (authority.empty()) return UsageError("--authority must not be empty");
  if (!IsValidActor(actor)) {
    return UsageError("--actor must be printable ASCII");
  }

  bool insecure = absl::GetFlag(FLAGS_insecure);
  bool any_tls = !absl::GetFlag(FLAGS_tls_ca).empty() ||
                 !absl::GetFlag(FLAGS_tls_cert).empty() ||
                 !absl::GetFlag(FLAGS_tls_key).empty() ||
                 !absl::GetFlag(FLAGS_tls_server_name).empty();
  if (insecure && any_tls) {
    return UsageError("--insecure cannot be combined with --tls_* flags");
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  if (insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    std::string cert = absl::GetFlag(FLAGS_tls_cert);
    std::string key = absl::GetFlag(FLAGS_tls_key);
    if (cert.empty() != key.empty()) {
      return UsageError("--tls_cert and --tls_key go together");
    }
    grpc::SslCredentialsOptions ssl;
    std::string error;
    if (std::string ca = absl::GetFlag(FLAGS_tls_ca); !ca.empty()) {
      ssl.pem_root_certs = ReadFile("tls_ca", ca, &error);
    }
    if (error.empty() && !cert.empty()) {
      ssl.pem_cert_chain = ReadFile("tls_cert", cert, &error);
    }
    if (error.empty() && !key.empty()) {
      ssl.pem_private_key = ReadFile("tls_key", key, &error);
    }
    if (!error.empty()) return LocalError(error);
    creds = grpc::SslCredentials(ssl);
    OPENSSL_cleanse(ssl.pem_private_key.data(), ssl.pem_private_key.size());
    if (std::string name = absl::GetFlag(FLAGS_tls_server_name);
        !name.empty()) {
      args.SetSslTargetNameOverride(name);
    }
  }
  Target() = {authority, insecure};
  return std::make_unique<Session>(
      grpc::CreateCustomChannel(authority, creds, args), std::move(actor),
      timeout, std::move(output), std::move(given));
}

}  // namespace pat::patctl
