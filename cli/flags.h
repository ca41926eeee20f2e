#ifndef PAT_CLI_FLAGS_H_
#define PAT_CLI_FLAGS_H_

// patctl's flags (defined in flags.cc). Global flags are the connection and
// output settings; command flags are checked per command (command_table.cc).

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::string, authority);
ABSL_DECLARE_FLAG(std::string, actor);
ABSL_DECLARE_FLAG(bool, insecure);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_server_name);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(std::string, config);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(std::string, plan);
ABSL_DECLARE_FLAG(std::string, id);
ABSL_DECLARE_FLAG(std::string, name);
ABSL_DECLARE_FLAG(std::string, tier);
ABSL_DECLARE_FLAG(std::string, admins);
ABSL_DECLARE_FLAG(std::string, kind);
ABSL_DECLARE_FLAG(std::string, parent_kind);
ABSL_DECLARE_FLAG(std::string, parent_id);
ABSL_DECLARE_FLAG(std::string, description);
ABSL_DECLARE_FLAG(int32_t, days);
ABSL_DECLARE_FLAG(std::string, scopes);
ABSL_DECLARE_FLAG(bool, all_resources);
ABSL_DECLARE_FLAG(std::string, links);
ABSL_DECLARE_FLAG(std::string, request_id);
ABSL_DECLARE_FLAG(std::string, token);
ABSL_DECLARE_FLAG(std::string, status);
ABSL_DECLARE_FLAG(int32_t, page_size);
ABSL_DECLARE_FLAG(std::string, page_token);
ABSL_DECLARE_FLAG(bool, all_pages);
ABSL_DECLARE_FLAG(std::string, method);
ABSL_DECLARE_FLAG(std::string, path);
ABSL_DECLARE_FLAG(bool, secret_stdin);

#endif  // PAT_CLI_FLAGS_H_
