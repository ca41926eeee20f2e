#include "bench/authority/secrets_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace pat::bench {
namespace {

absl::Status IoError(absl::string_view what, const std::string& path, int err) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

// Writes all of `data` to `fd`, retrying short writes and EINTR.
bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

absl::Status WriteSecretsFile(const std::string& path,
                              absl::Span<const TokenSecret> tokens) {
  std::string text;
  text.reserve(tokens.size() * 96);
  for (const TokenSecret& t : tokens) {
    absl::StrAppend(&text, t.token_id, "\t", t.secret, "\n");
  }
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create", tmp, errno);
  // O_CREAT's mode does not apply to a file that already existed.
  bool ok = ::fchmod(fd, 0600) == 0 && WriteAll(fd, text) && ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return IoError("cannot write", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename onto", path, err);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TokenSecret>> ReadSecretsFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError("cannot read", path, errno);
  std::vector<TokenSecret> tokens;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    absl::string_view view = line;
    if (!view.empty() && view.back() == '\r') view.remove_suffix(1);
    if (view.empty() || view.front() == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(view, '\t');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no,
                       ": expected token_id<TAB>secret (line not shown: it "
                       "may hold a secret)"));
    }
    tokens.push_back({std::string(parts[0]), std::string(parts[1])});
  }
  if (in.bad()) return IoError("cannot read", path, errno);
  return tokens;
}

}  // namespace pat::bench
