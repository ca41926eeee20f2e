#ifndef PAT_BENCH_AUTHORITY_SECRETS_FILE_H_
#define PAT_BENCH_AUTHORITY_SECRETS_FILE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

// The seed file: one token per line, `token_id<TAB>secret`. It holds live
// secrets, so it is written with mode 0600 and errors never quote a line.
namespace pat::bench {

struct TokenSecret {
  std::string token_id;
  std::string secret;
};

// Writes `tokens` to `path` (mode 0600), replacing it atomically: the lines
// go to `path`.tmp, which is then renamed over `path`.
absl::Status WriteSecretsFile(const std::string& path,
                              absl::Span<const TokenSecret> tokens);

// Reads a seed file. Empty lines and lines starting with '#' are skipped; any
// other line must be `token_id<TAB>secret` with both parts non-empty and no
// further tab, else INVALID_ARGUMENT naming the line number (never its text).
absl::StatusOr<std::vector<TokenSecret>> ReadSecretsFile(
    const std::string& path);

}  // namespace pat::bench

#endif  // PAT_BENCH_AUTHORITY_SECRETS_FILE_H_
