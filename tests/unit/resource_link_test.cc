#include "common/resource_link.h"

#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using ::pat::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------
// Accepted forms.

struct Accepted {
  std::string link;
  ResourceKind kind;
  std::string id;
  std::string org_id;
  std::string canonical;
};

void PrintTo(const Accepted& a, std::ostream* os) { *os << a.link; }

std::vector<Accepted> AcceptedRestLinks() {
  std::vector<Accepted> out;
  const std::string kFileCanonical = "https://www.figma.com/design/ABCDEFG123";
  for (absl::string_view host : {"figma.com", "www.figma.com"}) {
    for (absl::string_view type :
         {"design", "file", "board", "proto", "slides"}) {
      const std::string base =
          absl::StrCat("https://", host, "/", type, "/ABCDEFG123");
      for (absl::string_view suffix :
           {"", "/My-Design", "?node-id=1-2", "/My-Design?node-id=1-2&t=abc",
            "/Title.v2_~%20x", "?"}) {
        out.push_back({absl::StrCat(base, suffix), ResourceKind::kFile,
                       "ABCDEFG123", "", kFileCanonical});
      }
    }
    for (auto [segment, kind] : {std::pair<absl::string_view, ResourceKind>{
                                     "project", ResourceKind::kProject},
                                 {"team", ResourceKind::kTeam},
                                 {"workspace", ResourceKind::kWorkspace}}) {
      const std::string canonical = absl::StrCat(
          "https://www.figma.com/files/123456789/", segment, "/456");
      const std::string base =
          absl::StrCat("https://", host, "/files/123456789/", segment, "/456");
      for (absl::string_view suffix :
           {"", "/Marketing-Team", "?fuid=42", "/Marketing?fuid=42"}) {
        out.push_back(
            {absl::StrCat(base, suffix), kind, "456", "123456789", canonical});
      }
    }
  }
  // Ids with '_' and '-', host in upper case, 64-character key.
  out.push_back({"https://figma.com/files/org_A-1/team/t-9_Z",
                 ResourceKind::kTeam, "t-9_Z", "org_A-1",
                 "https://www.figma.com/files/org_A-1/team/t-9_Z"});
  out.push_back({"https://WWW.Figma.COM/design/k1", ResourceKind::kFile, "k1",
                 "", "https://www.figma.com/design/k1"});
  out.push_back({"HTTPS://figma.com/design/k1", ResourceKind::kFile, "k1", "",
                 "https://www.figma.com/design/k1"});
  const std::string key64(64, 'K');
  out.push_back({absl::StrCat("https://figma.com/file/", key64),
                 ResourceKind::kFile, key64, "",
                 absl::StrCat("https://www.figma.com/design/", key64)});
  // The seed's examples.
  out.push_back({"https://figma.com/design/ABCDEFG123", ResourceKind::kFile,
                 "ABCDEFG123", "", "https://www.figma.com/design/ABCDEFG123"});
  out.push_back({"https://figma.com/files/123456789/workspace/789",
                 ResourceKind::kWorkspace, "789", "123456789",
                 "https://www.figma.com/files/123456789/workspace/789"});
  // A query may contain characters that would be refused in the path.
  out.push_back({"https://figma.com/design/KEY?a=b/c@d:e", ResourceKind::kFile,
                 "KEY", "", "https://www.figma.com/design/KEY"});
  return out;
}

class AcceptedRestLinkTest : public ::testing::TestWithParam<Accepted> {};

TEST_P(AcceptedRestLinkTest, ParsesToKindIdAndCanonicalLink) {
  const Accepted& a = GetParam();
  absl::StatusOr<ParsedLink> parsed =
      ParseResourceLink(a.link, TokenKind::kRestApi);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->kind, a.kind);
  EXPECT_EQ(parsed->id, a.id);
  EXPECT_EQ(parsed->org_id, a.org_id);
  EXPECT_EQ(CanonicalLink(parsed->kind, parsed->id, parsed->org_id),
            a.canonical);
  // The canonical link is itself accepted and is a fixed point.
  absl::StatusOr<ParsedLink> again =
      ParseResourceLink(a.canonical, TokenKind::kRestApi);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->kind, a.kind);
  EXPECT_EQ(again->id, a.id);
  EXPECT_EQ(again->org_id, a.org_id);
}

INSTANTIATE_TEST_SUITE_P(AllForms, AcceptedRestLinkTest,
                         ::testing::ValuesIn(AcceptedRestLinks()));

TEST(ResourceLinkTest, AcceptsNpmScopes) {
  for (absl::string_view scope :
       {"@acme", "@a", "@0", "@acme-corp", "@acme.design", "@acme_x", "@9lives",
        "@a-._"}) {
    absl::StatusOr<ParsedLink> parsed =
        ParseResourceLink(scope, TokenKind::kNpmRegistry);
    ASSERT_THAT(parsed, IsOk()) << scope;
    EXPECT_EQ(parsed->kind, ResourceKind::kNpmScope);
    EXPECT_EQ(parsed->id, scope);
    EXPECT_EQ(parsed->org_id, "");
    EXPECT_EQ(CanonicalLink(parsed->kind, parsed->id, parsed->org_id), scope);
  }
  const std::string longest = absl::StrCat("@", std::string(214, 'a'));
  EXPECT_THAT(ParseResourceLink(longest, TokenKind::kNpmRegistry), IsOk());
}

TEST(CanonicalLinkTest, Forms) {
  EXPECT_EQ(CanonicalLink(ResourceKind::kFile, "KEY", ""),
            "https://www.figma.com/design/KEY");
  EXPECT_EQ(CanonicalLink(ResourceKind::kProject, "1", "org"),
            "https://www.figma.com/files/org/project/1");
  EXPECT_EQ(CanonicalLink(ResourceKind::kTeam, "2", "org"),
            "https://www.figma.com/files/org/team/2");
  EXPECT_EQ(CanonicalLink(ResourceKind::kWorkspace, "3", "org"),
            "https://www.figma.com/files/org/workspace/3");
  EXPECT_EQ(CanonicalLink(ResourceKind::kNpmScope, "@acme", ""), "@acme");
  EXPECT_EQ(CanonicalLink(ResourceKind::kNpmScope, "acme", ""), "@acme");
  EXPECT_EQ(CanonicalLink(ResourceKind::kUnspecified, "x", "y"), "");
}

// ---------------------------------------------------------------------------
// Rejected forms.

struct Rejected {
  std::string link;
  TokenKind token_kind;
  std::string message;  // expected substring
};

void PrintTo(const Rejected& r, std::ostream* os) {
  *os << (r.link.size() > 80 ? r.link.substr(0, 80) + "..." : r.link);
}

std::vector<Rejected> RejectedLinks() {
  constexpr TokenKind kRest = TokenKind::kRestApi;
  constexpr TokenKind kNpm = TokenKind::kNpmRegistry;
  std::vector<Rejected> out = {
      // Empty and oversized.
      {"", kRest, "empty link"},
      {"", kNpm, "empty link"},
      {absl::StrCat("https://figma.com/design/KEY?q=", std::string(2048, 'a')),
       kRest, "longer than 2048 bytes"},
      {absl::StrCat("@", std::string(2048, 'a')), kNpm,
       "longer than 2048 bytes"},
      // Scheme.
      {"http://figma.com/design/KEY", kRest, "http links are not accepted"},
      {"HTTP://www.figma.com/design/KEY", kRest, "http links are not accepted"},
      {"ftp://figma.com/design/KEY", kRest, "unsupported scheme"},
      {"figma.com/design/KEY", kRest, "not a link"},
      {"//figma.com/design/KEY", kRest, "not a link"},
      {"https:/figma.com/design/KEY", kRest, "not a link"},
      // Host.
      {"https://evil.com/design/KEY", kRest, "unsupported host"},
      {"https://figma.com.evil.com/design/KEY", kRest, "unsupported host"},
      {"https://evilfigma.com/design/KEY", kRest, "unsupported host"},
      {"https://api.figma.com/design/KEY", kRest, "unsupported host"},
      {"https://www.figma.com./design/KEY", kRest, "unsupported host"},
      {"https:///design/KEY", kRest, "unsupported host"},
      {"https://[::1]/design/KEY", kRest, "unsupported host"},
      {"https://%66igma.com/design/KEY", kRest, "unsupported host"},
      // User info, port, fragment.
      {"https://user@figma.com/design/KEY", kRest, "user info"},
      {"https://figma.com@evil.com/design/KEY", kRest, "user info"},
      {"https://user:pw@www.figma.com/design/KEY", kRest, "user info"},
      {"https://figma.com:443/design/KEY", kRest, "ports are not accepted"},
      {"https://figma.com:/design/KEY", kRest, "ports are not accepted"},
      {"https://figma.com/design/KEY#frag", kRest, "fragments"},
      {"https://figma.com/design/KEY?x=1#frag", kRest, "fragments"},
      {"https://evil.com#@figma.com/design/KEY", kRest, "fragments"},
      // Path.
      {"https://figma.com", kRest, "names no file"},
      {"https://figma.com/", kRest, "names no file"},
      {"https://figma.com?design=KEY", kRest, "names no file"},
      {"https://figma.com/design", kRest, "missing file key"},
      {"https://figma.com/design/", kRest, "missing file key"},
      {"https://figma.com/design/?x=1", kRest, "missing file key"},
      {"https://figma.com/design//Title", kRest, "missing file key"},
      {"https://figma.com/design/KEY/", kRest, "empty path segment"},
      {"https://figma.com/design/KEY/Title/", kRest, "unexpected path"},
      {"https://figma.com/design/KEY/branch/BRANCH/Title", kRest,
       "unexpected path"},
      {"https://figma.com/design/KE_Y", kRest, "invalid character in file key"},
      {"https://figma.com/design/KE-Y", kRest, "invalid character in file key"},
      {"https://figma.com/design/KE%59", kRest,
       "invalid character in file key"},
      {absl::StrCat("https://figma.com/design/", std::string(65, 'K')), kRest,
       "file key longer than 64"},
      {"https://figma.com/design/KEY/Ti(t)le", kRest,
       "invalid character in title slug"},
      {"https://figma.com/Design/KEY", kRest, "unsupported link path"},
      {"https://figma.com/community/file/123", kRest, "unsupported link path"},
      {"https://figma.com//design/KEY", kRest, "unsupported link path"},
      {"https://figma.com/files", kRest, "missing organization id"},
      {"https://figma.com/files/", kRest, "missing organization id"},
      {"https://figma.com/files/org", kRest, "missing resource type"},
      {"https://figma.com/files/org/folder/1", kRest,
       "unsupported resource type"},
      {"https://figma.com/files/org/Team/1", kRest,
       "unsupported resource type"},
      {"https://figma.com/files/org/project", kRest, "missing project id"},
      {"https://figma.com/files/org/team/", kRest, "missing team id"},
      {"https://figma.com/files/org/workspace?x", kRest,
       "missing workspace id"},
      {"https://figma.com/files/o.rg/team/1", kRest,
       "invalid character in organization id"},
      {"https://figma.com/files/org/team/1.2", kRest,
       "invalid character in team id"},
      {absl::StrCat("https://figma.com/files/", std::string(65, 'o'),
                    "/team/1"),
       kRest, "organization id longer than 64"},
      {"https://figma.com/files/org/team/1/Name/extra", kRest,
       "unexpected path segments after the team id"},
      {"https://figma.com/files/org/team/1/", kRest, "empty path segment"},
      // Characters no URL may contain.
      {" https://figma.com/design/KEY", kRest, "invalid character"},
      {"https://figma.com/design/KEY ", kRest, "invalid character"},
      {"https://figma.com/design/K\nEY", kRest, "invalid character \"\\n\""},
      {"https://figma.com\\@evil.com/design/KEY", kRest, "invalid character"},
      {"https://figma.com/design/KEY\xc3\xa9", kRest, "invalid character"},
      {std::string("https://figma.com/design/K\0EY", 29), kRest,
       "invalid character"},
      {"https://figma.com/design/KEY?q=<script>", kRest, "invalid character"},
      // Wrong token kind.
      {"@acme", kRest, "only for npm_registry tokens"},
      {"https://figma.com/design/KEY", kNpm, "not links"},
      {"https://figma.com/design/KEY", TokenKind::kUnspecified,
       "unsupported token kind"},
      {"@acme", TokenKind::kUnspecified, "unsupported token kind"},
      // npm scopes.
      {"@", kNpm, "missing npm scope name"},
      {"@A", kNpm, "invalid character in npm scope"},
      {"@Acme", kNpm, "invalid character in npm scope"},
      {"acme", kNpm, "must start with '@'"},
      {"@acme/pkg", kNpm, "not a package name"},
      {"@acme/", kNpm, "not a package name"},
      {"@/pkg", kNpm, "not a package name"},
      {"@@acme", kNpm, "invalid character in npm scope"},
      {"@.acme", kNpm, "invalid character in npm scope"},
      {"@_acme", kNpm, "invalid character in npm scope"},
      {"@-acme", kNpm, "invalid character in npm scope"},
      {"@ac me", kNpm, "invalid character in npm scope"},
      {"@acme ", kNpm, "invalid character in npm scope"},
      {"@acme~", kNpm, "invalid character in npm scope"},
      {" @acme", kNpm, "must start with '@'"},
      {absl::StrCat("@", std::string(215, 'a')), kNpm,
       "longer than 214 characters"},
  };
  return out;
}

class RejectedLinkTest : public ::testing::TestWithParam<Rejected> {};

TEST_P(RejectedLinkTest, IsInvalidArgumentWithClearMessage) {
  const Rejected& r = GetParam();
  absl::StatusOr<ParsedLink> parsed = ParseResourceLink(r.link, r.token_kind);
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr(r.message)));
  if (!parsed.ok()) {
    const absl::string_view message = parsed.status().message();
    EXPECT_THAT(std::string(message),
                ::testing::StartsWith("resource_links: "));
    // At most 64 bytes of input, escaped, plus fixed text.
    EXPECT_LT(message.size(), 64 * 4 + 200u) << message;
    for (char c : message) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unescaped byte in: " << message;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllForms, RejectedLinkTest,
                         ::testing::ValuesIn(RejectedLinks()));

TEST(ResourceLinkTest, RejectsAtLeast25Forms) {
  EXPECT_GE(RejectedLinks().size(), 25u);
}

TEST(ResourceLinkTest, ExactlyMaxLengthIsStillParsed) {
  const std::string base = "https://figma.com/design/KEY?q=";
  const std::string link =
      absl::StrCat(base, std::string(2048 - base.size(), 'a'));
  ASSERT_EQ(link.size(), 2048u);
  EXPECT_THAT(ParseResourceLink(link, TokenKind::kRestApi), IsOk());
}

TEST(ResourceLinkTest, MessagesQuoteAtMost64BytesOfInput) {
  const std::string host = absl::StrCat(std::string(100, 'h'), ".example");
  absl::StatusOr<ParsedLink> parsed = ParseResourceLink(
      absl::StrCat("https://", host, "/design/KEY"), TokenKind::kRestApi);
  ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("unsupported host")));
  const std::string message(parsed.status().message());
  EXPECT_THAT(message, HasSubstr(std::string(64, 'h')));
  EXPECT_THAT(message, Not(HasSubstr(std::string(65, 'h'))));
  EXPECT_THAT(message, HasSubstr("..."));
}

TEST(ResourceLinkTest, MessagesEscapeNonPrintableBytes) {
  absl::StatusOr<ParsedLink> parsed =
      ParseResourceLink("https://ev\x01il.com/design/KEY", TokenKind::kRestApi);
  ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("invalid character \"\\x01\"")));
  parsed = ParseResourceLink("\x1b[31m@acme", TokenKind::kNpmRegistry);
  ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("\\x1b[31m@acme")));
}

}  // namespace
}  // namespace pat
