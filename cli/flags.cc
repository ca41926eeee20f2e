// patctl's flags. Which command takes which: cli/command_table.cc and the
// command groups' tables.

#include "cli/flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"

// Global flags.
ABSL_FLAG(std::string, authority, "127.0.0.1:7443",
          "Authority address, host:port (environment fallback PAT_AUTHORITY).");
ABSL_FLAG(std::string, actor, "",
          "User id on whose behalf token RPCs are made (environment fallback "
          "PAT_ACTOR); sent as the x-pat-actor metadata.");
ABSL_FLAG(bool, insecure, false,
          "Plaintext channel, for local development and tests.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the CA certificates that verify the authority "
          "(default: the system roots).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM file of the client certificate chain (mTLS).");
ABSL_FLAG(std::string, tls_key, "",
          "PEM file of the client certificate's private key (mTLS).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify in the authority's certificate when it differs "
          "from the --authority host.");
ABSL_FLAG(std::string, output, "text",
          "Output format: text (a table on a terminal, tab-separated when "
          "piped), json, table or tsv.");
ABSL_FLAG(std::string, config, "",
          "Config file of connection settings (default: PAT_CONFIG, else "
          "$XDG_CONFIG_HOME/patctl/config or ~/.config/patctl/config if it "
          "exists).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each RPC.");

// Command flags (which command takes which: see Commands()).
ABSL_FLAG(std::string, plan, "", "Plan (organization) id.");
ABSL_FLAG(std::string, id, "", "Plan id (upsert-plan) or resource id.");
ABSL_FLAG(std::string, name, "", "Name of the plan, resource or token.");
ABSL_FLAG(std::string, tier, "",
          "Plan tier: starter, professional, organization or enterprise.");
ABSL_FLAG(std::string, admins, "", "Comma-separated admin user ids.");
ABSL_FLAG(std::string, kind, "",
          "Token kind (rest, npm) or resource kind (file, project, team, "
          "workspace, npm_scope), depending on the command.");
ABSL_FLAG(std::string, parent_kind, "", "Kind of the resource's parent.");
ABSL_FLAG(std::string, parent_id, "", "Id of the resource's parent.");
ABSL_FLAG(std::string, description, "", "Token description.");
ABSL_FLAG(int32_t, days, 0, "Token lifetime in whole days (1-365).");
ABSL_FLAG(std::string, scopes, "", "Comma-separated scopes.");
ABSL_FLAG(bool, all_resources, false,
          "The token may access every resource of its plan.");
ABSL_FLAG(std::string, links, "",
          "Comma-separated resource links (npm tokens: package scopes such "
          "as @acme).");
ABSL_FLAG(std::string, request_id, "",
          "Idempotency key: a retry with the same key returns the first "
          "result instead of acting twice.");
ABSL_FLAG(std::string, token, "", "Token id.");
ABSL_FLAG(std::string, status, "",
          "Comma-separated statuses to list: active, expired, revoked.");
ABSL_FLAG(int32_t, page_size, 0,
          "Maximum results per page (0: server default).");
ABSL_FLAG(std::string, page_token, "", "Page to fetch (from a previous list).");
ABSL_FLAG(bool, all_pages, false, "Fetch every page.");
ABSL_FLAG(std::string, method, "", "HTTP method for check, e.g. GET.");
ABSL_FLAG(std::string, path, "", "HTTP path for check, e.g. /v1/files/KEY.");
ABSL_FLAG(bool, secret_stdin, false,
          "Read the secret from standard input (the only way to pass one).");
