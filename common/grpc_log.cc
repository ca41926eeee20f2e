#include "common/grpc_log.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "grpc/support/log.h"
#include "nlohmann/json.hpp"

namespace pat {
namespace {

const char* LevelName(gpr_log_severity severity) {
  switch (severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      return "debug";
    case GPR_LOG_SEVERITY_INFO:
      return "info";
    case GPR_LOG_SEVERITY_ERROR:
      return "error";
  }
  return "error";
}

void JsonLog(gpr_log_func_args* args) {
  nlohmann::ordered_json line = {
      {"level", LevelName(args->severity)},
      {"msg", "grpc"},
      {"grpc_message", args->message != nullptr ? args->message : ""},
      {"file", args->file != nullptr ? args->file : ""},
      {"line", args->line},
  };
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // One write per line so concurrent threads do not interleave.
  std::fprintf(stderr, "%s\n", text.c_str());
}

void Drop(gpr_log_func_args*) {}

}  // namespace

void RouteGrpcLogsToJson() { gpr_set_log_function(JsonLog); }

void SilenceGrpcLogs() {
  const char* verbosity = std::getenv("GRPC_VERBOSITY");
  if (verbosity != nullptr) {
    const std::string v = absl::AsciiStrToLower(verbosity);
    if (v == "debug" || v == "info") {
      gpr_set_log_function(JsonLog);
      return;
    }
  }
  gpr_set_log_function(Drop);
}

}  // namespace pat
