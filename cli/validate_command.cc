// IntrospectionService: validate (looks a secret up by its digest; the
// secret is read from stdin only and wiped after hashing).

#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/handler_util.h"
#include "cli/output.h"
#include "cli/patctl_args.h"
#include "cli/patctl_ux.h"
#include "cli/session.h"
#include "common/secret.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/pat.pb.h"

namespace pat::patctl {
namespace {

// Bounded read of a secret from stdin; real secrets are ~58 bytes.
constexpr size_t kMaxSecretBytes = 4096;

// Turns terminal echo off for its lifetime (when stdin is a terminal).
class NoEcho {
 public:
  NoEcho() {
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~NoEcho() {
    if (active_) {
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
      std::cerr << "\n";
    }
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// Reads the secret (one line, surrounding whitespace ignored) into `out`.
// Returns an error message, or "" on success. The read buffer is wiped.
std::string ReadSecret(std::string* out) {
  if (isatty(STDIN_FILENO)) std::cerr << "secret: " << std::flush;
  NoEcho no_echo;
  char buf[kMaxSecretBytes + 1];
  size_t n = 0;
  while (n < sizeof(buf)) {
    ssize_t got = read(STDIN_FILENO, buf + n, sizeof(buf) - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      OPENSSL_cleanse(buf, sizeof(buf));
      return absl::StrCat("cannot read stdin: ", std::strerror(errno));
    }
    if (got == 0) break;
    n += static_cast<size_t>(got);
    if (isatty(STDIN_FILENO) && buf[n - 1] == '\n') break;
  }
  std::string error;
  if (n > kMaxSecretBytes) {
    error = "the secret on stdin is too long";
  } else {
    *out = std::string(absl::StripAsciiWhitespace(absl::string_view(buf, n)));
    if (out->empty()) error = "no secret on stdin";
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return error;
}

int Validate(Session& s) {
  if (!absl::GetFlag(FLAGS_secret_stdin)) {
    return UsageError(
        "validate reads the secret from stdin: pass --secret_stdin");
  }
  std::string secret;
  if (std::string error = ReadSecret(&secret); !error.empty()) {
    return LocalError(error);
  }
  // The offline shape/checksum check; its message never contains the secret.
  if (absl::StatusOr<TokenKind> kind = ParseSecret(secret); !kind.ok()) {
    std::cerr << "patctl: warning: " << TerminalSafe(kind.status().message())
              << "\n";
  }
  Digest digest = Sha256(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  v1::ValidateTokenRequest req;
  req.set_secret_sha256(
      std::string(reinterpret_cast<const char*>(digest.data()), digest.size()));
  v1::ValidateTokenResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/false, s.introspection(),
            &v1::IntrospectionService::Stub::ValidateToken, req, &resp);
  if (!status.ok()) return RpcError(status);
  const int printed = Emit(s, resp, [&] {
    Line("found", resp.found() ? "true" : "false");
    if (!resp.found()) return;
    const v1::Grant& g = resp.grant();
    Line("token_id", g.token_id());
    Line("plan_id", g.plan_id());
    Line("kind", EnumToName(TokenKindNames(), g.kind()));
    Line("status", EnumToName(TokenStatusNames(), g.status()));
    Line("scopes", ListText(g.scopes()));
    PrintResourceLines(g.all_resources(), g.resources());
    if (g.has_expire_time()) Line("expire_time", TimeText(g.expire_time()));
    if (g.has_revoke_time()) Line("revoke_time", TimeText(g.revoke_time()));
    if (resp.has_secret_expire_time()) {
      Line("secret_expire_time", TimeText(resp.secret_expire_time()));
    }
  });
  if (printed != kExitOk) return printed;
  return resp.found() ? kExitOk : kExitNo;
}

}  // namespace

std::vector<Command> ValidateCommands() {
  return {
      {"validate",
       "look up a secret (read from stdin); exit 0 found, 1 not found",
       "patctl validate --secret_stdin < secret.txt\nprintf %s \"$SECRET\" | "
       "patctl validate --secret_stdin --output=json",
       "--secret_stdin",
       {"secret_stdin"},
       {},
       Validate},
  };
}

}  // namespace pat::patctl
