#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/path.h"
#include "common/policy/reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::policy {
namespace {

using ::testing::HasSubstr;

struct Accepted {
  absl::string_view raw;
  absl::string_view path;  // forwarded exactly
  absl::string_view query;
  bool has_query;
};

class AcceptedTargetTest : public ::testing::TestWithParam<Accepted> {};

TEST_P(AcceptedTargetTest, ForwardsExactBytes) {
  const Accepted& a = GetParam();
  const TargetCheck c = CheckTarget(a.raw);
  ASSERT_TRUE(c.ok()) << a.raw << ": " << c.detail;
  EXPECT_EQ(c.reason, Reason::kAllowed);
  EXPECT_EQ(c.target.path, a.path);
  EXPECT_EQ(c.target.query, a.query);
  EXPECT_EQ(c.target.has_query, a.has_query);
  // Views into the input: nothing is rewritten or copied.
  EXPECT_EQ(c.target.path.data(), a.raw.data());
  // Idempotent.
  const TargetCheck again = CheckTarget(c.target.path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.target.path, c.target.path);
}

INSTANTIATE_TEST_SUITE_P(
    Canonical, AcceptedTargetTest,
    ::testing::Values(
        Accepted{"/", "/", "", false}, Accepted{"/?", "/", "", true},
        Accepted{"/v1/me", "/v1/me", "", false},
        Accepted{"/v1/files/AbC123", "/v1/files/AbC123", "", false},
        Accepted{"/v1/files/abc?depth=2&ids=1:2,3:4", "/v1/files/abc",
                 "depth=2&ids=1:2,3:4", true},
        Accepted{"/v1/files/abc?", "/v1/files/abc", "", true},
        Accepted{"/v1/images/k?ids=1%3A2&format=png", "/v1/images/k",
                 "ids=1%3A2&format=png", true},
        // '%2F' is fine in a query: the path rules do not apply there.
        Accepted{"/v2/webhooks?next=%2Fv1%2Fa", "/v2/webhooks",
                 "next=%2Fv1%2Fa", true},
        Accepted{"/@acme/widgets", "/@acme/widgets", "", false},
        Accepted{"/lodash.merge", "/lodash.merge", "", false},
        Accepted{"/w/-/w-1.0.0.tgz", "/w/-/w-1.0.0.tgz", "", false},
        Accepted{"/a/...", "/a/...", "", false},  // not a dot segment
        Accepted{"/a/.b/c..", "/a/.b/c..", "", false},
        Accepted{"/a:b/c=d/e@f/~g", "/a:b/c=d/e@f/~g", "", false},
        Accepted{"/!$&'()*+,", "/!$&'()*+,", "", false},
        // Escapes of bytes with a meaning of their own (documented).
        Accepted{"/v1/a%20b", "/v1/a%20b", "", false},
        Accepted{"/x/%40y", "/x/%40y", "", false},
        Accepted{"/x/%3F%23%3A", "/x/%3F%23%3A", "", false},
        Accepted{"/x?y?z", "/x", "y?z", true},
        Accepted{"/x?a=b/c", "/x", "a=b/c", true},
        Accepted{"/x?page_token=abc&my_token=1&tokens=2&x=token", "/x",
                 "page_token=abc&my_token=1&tokens=2&x=token", true}));

struct Refused {
  absl::string_view raw;
  absl::string_view detail;  // substring of the detail
};

class RefusedTargetTest : public ::testing::TestWithParam<Refused> {};

TEST_P(RefusedTargetTest, IsPathInvalid) {
  const Refused& r = GetParam();
  const TargetCheck c = CheckTarget(r.raw);
  EXPECT_FALSE(c.ok()) << absl::CEscape(r.raw);
  EXPECT_EQ(c.reason, Reason::kPathInvalid) << absl::CEscape(r.raw);
  EXPECT_THAT(std::string(c.detail), HasSubstr(std::string(r.detail)))
      << absl::CEscape(r.raw);
  EXPECT_EQ(ReasonHttpStatus(c.reason), 400);
}

// Bypass variants (threat checklist #28 and the brief's list).
INSTANTIATE_TEST_SUITE_P(
    Bypasses, RefusedTargetTest,
    ::testing::Values(
        Refused{"", "empty"}, Refused{"*", "asterisk-form"},
        Refused{"http://api.figma.com/v1/me", "absolute-form"},
        Refused{"https://api.figma.com/v1/me", "absolute-form"},
        Refused{"HTTP://x/v1/me", "absolute-form"},
        Refused{"api.figma.com:443", "must start with '/'"},
        Refused{"v1/me", "must start with '/'"},
        Refused{" /v1/me", "must start with '/'"},
        Refused{"//v1/me", "empty path segment"},
        Refused{"/v1//me", "empty path segment"},
        Refused{"//", "empty path segment"},
        Refused{"/v1/me/", "trailing slash"},
        Refused{"/v1/./me", "dot segment"},
        Refused{"/v1/x/../me", "dot segment"},
        Refused{"/v1/me/.", "dot segment"}, Refused{"/v1/me/..", "dot segment"},
        Refused{"/..", "dot segment"}, Refused{"/.", "dot segment"},
        Refused{"/v1%2Fme", "percent-encoded '/'"},
        Refused{"/v1%2fme", "percent-encoded '/'"},
        Refused{"/v1/me%2F..%2Fadmin", "percent-encoded '/'"},
        Refused{"/v1/%2e%2e/admin", "percent-encoded '.'"},
        Refused{"/v1/%2E%2E/admin", "percent-encoded '.'"},
        Refused{"/v1/%2e/me", "percent-encoded '.'"},
        Refused{"/v1/..%5cadmin", "percent-encoded backslash"},
        Refused{"/v1/..%5Cadmin", "percent-encoded backslash"},
        Refused{"/v1\\me", "backslash"}, Refused{"/v1/..\\admin", "backslash"},
        Refused{"/v1/me;x=1", "path parameter"},
        Refused{"/v1/me;", "path parameter"},
        Refused{"/v1/files/k;jsessionid=1/nodes", "path parameter"},
        Refused{"/v1/me%3Bx", "percent-encoded ';'"},
        Refused{"/v1/admin#x", "fragment"}, Refused{"/v1/me#", "fragment"},
        Refused{"/v1/me?x=1#frag", "fragment"},
        Refused{"/v1/me%00", "percent-encoded NUL"},
        Refused{absl::string_view("/v1/me\0x", 8), "control character"},
        Refused{"/v1/%c0%af", "non-ASCII"},  // overlong UTF-8 '/'
        Refused{"/v1/%C0%AF", "non-ASCII"},
        Refused{"/v1/%e0%80%af", "non-ASCII"},
        Refused{"/v1/%252F", "double encoding"},
        Refused{"/v1/%252e%252e/admin", "double encoding"},
        Refused{"/v1/%25", "double encoding"},
        Refused{"/v1/m\te", "control character"}, Refused{"/v1/m e", "space"},
        Refused{"/v1/me\r\n", "control character"},
        Refused{"/v1/me\x7f", "control character"},
        Refused{"/v1/%0A", "control character"},
        Refused{"/v1/%7F", "control character"},
        Refused{"/v1/%6de", "unreserved"},  // "me"
        Refused{"/v1/files/%41BC", "unreserved"},
        Refused{"/v1/%7E", "unreserved"}, Refused{"/v1/%5F", "unreserved"},
        Refused{"/v1/%2D", "unreserved"}, Refused{"/v1/%3a", "lower-case"},
        Refused{"/v1/%", "malformed"}, Refused{"/v1/%4", "malformed"},
        Refused{"/v1/%zz", "malformed"}, Refused{"/v1/%%41", "malformed"},
        Refused{"/v1/caf\xc3\xa9", "non-ASCII"},
        Refused{"/v1/\xff", "non-ASCII"}, Refused{"/v1/{x}", "not allowed"},
        Refused{"/v1/a|b", "not allowed"}, Refused{"/v1/a\"b", "not allowed"},
        Refused{"/v1/a<b>", "not allowed"}, Refused{"/v1/a[0]", "not allowed"},
        Refused{"/v1/a^b", "not allowed"}, Refused{"/v1/a`b", "not allowed"},
        Refused{"/v1/me?x=\x01", "control character in query"},
        Refused{"/v1/me?x=a b", "space in query"},
        Refused{"/v1/me?x=\xff", "non-ASCII byte in query"},
        Refused{"/v1/me?x=%zz", "malformed percent-escape in query"},
        Refused{"/v1/me?x=%4", "malformed percent-escape in query"},
        Refused{"/v1/me?x=%00", "percent-encoded NUL in query"}));

TEST(CheckTarget, RefusesOverlongTargets) {
  const std::string ok =
      absl::StrCat("/", std::string(kMaxTargetLength - 1, 'a'));
  EXPECT_TRUE(CheckTarget(ok).ok());
  const std::string too_long = absl::StrCat(ok, "a");
  const TargetCheck c = CheckTarget(too_long);
  EXPECT_EQ(c.reason, Reason::kPathInvalid);
  EXPECT_THAT(std::string(c.detail), HasSubstr("too long"));
}

TEST(CheckTarget, DetailNeverEchoesTheRequest) {
  const TargetCheck c = CheckTarget("/v1/SECRETSEGMENT/../x");
  EXPECT_THAT(std::string(c.detail), ::testing::Not(HasSubstr("SECRET")));
}

class TokenInQueryTest : public ::testing::TestWithParam<absl::string_view> {};

TEST_P(TokenInQueryTest, IsRefused) {
  const TargetCheck c = CheckTarget(GetParam());
  EXPECT_EQ(c.reason, Reason::kTokenInQuery) << GetParam();
  EXPECT_EQ(ReasonCode(c.reason), "token_in_query");
  EXPECT_EQ(ReasonHttpStatus(c.reason), 400);
  EXPECT_FALSE(c.detail.empty());
  EXPECT_THAT(std::string(c.detail), ::testing::Not(HasSubstr("pat_")));
}

INSTANTIATE_TEST_SUITE_P(
    Credentials, TokenInQueryTest,
    ::testing::Values(
        "/v1/me?token=abc", "/v1/files/k?access_token=abc",
        "/v1/files/k?api_key=abc", "/v1/files/k?API_KEY=abc",
        "/v1/files/k?Access_Token=abc", "/v1/files/k?depth=1&token=abc",
        "/v1/files/k?depth=1;token=abc", "/v1/files/k?token",
        "/v1/files/k?token=", "/v1/files/k?acc%65ss_token=x",
        "/v1/files/k?api%5Fkey=x", "/v1/files/k?tok%65n=x",
        "/v1/files/k?x=pat_rest_0123456789", "/v1/files/k?x=PAT_NPM_abc",
        "/v1/files/k?x=pat%5Frest_abc", "/v1/files/k?a=1&b=pat_npm_abc&c=2"));

TEST(CheckTarget, PathRulesComeBeforeTokenInQuery) {
  EXPECT_EQ(CheckTarget("/v1//me?token=x").reason, Reason::kPathInvalid);
}

TEST(FindQueryParam, LooksUpDecodedNames) {
  std::string v;
  EXPECT_EQ(FindQueryParam("a=1&context_id=t%31&b=2", "context_id", &v),
            QueryParamLookup::kFound);
  EXPECT_EQ(v, "t1");
  EXPECT_EQ(FindQueryParam("context%5Fid=x+y", "context_id", &v),
            QueryParamLookup::kFound);
  EXPECT_EQ(v, "x y");
  EXPECT_EQ(FindQueryParam("context_id", "context_id", &v),
            QueryParamLookup::kFound);
  EXPECT_EQ(v, "");
  EXPECT_EQ(FindQueryParam("context_id=1&context_id=2", "context_id", &v),
            QueryParamLookup::kDuplicate);
  EXPECT_EQ(FindQueryParam("context%5Fid=1&context_id=1", "context_id", &v),
            QueryParamLookup::kDuplicate);
  EXPECT_EQ(FindQueryParam("Context_ID=1", "context_id", &v),
            QueryParamLookup::kMissing);
  EXPECT_EQ(FindQueryParam("", "context_id", &v), QueryParamLookup::kMissing);
  EXPECT_EQ(FindQueryParam("context_idx=1&xcontext_id=2", "context_id", &v),
            QueryParamLookup::kMissing);
  EXPECT_EQ(FindQueryParam("id=%zz%4", "id", &v), QueryParamLookup::kFound);
  EXPECT_EQ(v, "%zz%4");  // malformed escapes kept literally
}

// The decision form: every accepted escape decoded; no copy without escapes.
TEST(DecisionPath, DecodesEveryAcceptedEscape) {
  struct Case {
    absl::string_view raw, decision;
  };
  for (const Case& c : {
           Case{"/%40b-scope/pkg", "/@b-scope/pkg"},
           Case{"/v1/files/a%20b", "/v1/files/a b"},
           Case{"/x/%3F%23%3A?q=%40", "/x/?#:"},
           Case{"/x/%2B+", "/x/++"},  // '+' is not a space in a path
           Case{"/a%21%24%26%27%28%29%2A%2C%3D%40", "/a!$&'()*,=@"},
       }) {
    SCOPED_TRACE(c.raw);
    const TargetCheck t = CheckTarget(c.raw);
    ASSERT_TRUE(t.ok()) << t.detail;
    EXPECT_EQ(t.target.decision_path(), c.decision);
    EXPECT_FALSE(t.target.decoded_path.empty());
    // The forwarded path is untouched.
    EXPECT_EQ(t.target.path, c.raw.substr(0, c.raw.find('?')));
    // A copy keeps its own decision form.
    const Target copy = t.target;
    EXPECT_EQ(copy.decision_path(), c.decision);
    EXPECT_NE(copy.decision_path().data(), t.target.decision_path().data());
  }
  const TargetCheck plain = CheckTarget("/v1/files/abc?x=%40");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain.target.decoded_path.empty());
  EXPECT_EQ(plain.target.decision_path().data(), plain.target.path.data());
}

TEST(PathMode, ByApi) {
  EXPECT_EQ(PathModeFor(TokenKind::kNpmRegistry), PathMode::kNpm);
  EXPECT_EQ(PathModeFor(TokenKind::kRestApi), PathMode::kStrict);
  EXPECT_EQ(PathModeFor(TokenKind::kUnspecified), PathMode::kStrict);
}

// npm mode: "%2f"/"%2F" right after a leading "@scope" of a segment.
TEST(NpmPathMode, AcceptsScopedNameEscapes) {
  struct Case {
    absl::string_view raw, decision;
  };
  for (const Case& c : {
           Case{"/@acme%2fwidget", "/@acme/widget"},
           Case{"/@acme%2Fwidget", "/@acme/widget"},
           Case{"/@acme%2Fwidget/-/widget-1.0.0.tgz",
                "/@acme/widget/-/widget-1.0.0.tgz"},
           Case{"/@acme%2fwidget/-rev/3-abc", "/@acme/widget/-rev/3-abc"},
           Case{"/-/package/@acme%2fwidget/dist-tags",
                "/-/package/@acme/widget/dist-tags"},
           Case{"/-/package/@acme%2fwidget/dist-tags/latest",
                "/-/package/@acme/widget/dist-tags/latest"},
           Case{"/@a%2fb", "/@a/b"},
           Case{"/@acme%2fw%40x", "/@acme/w@x"},
           Case{"/@acme%2f.x", "/@acme/.x"},
           Case{"/@acme%2f...", "/@acme/..."},
       }) {
    SCOPED_TRACE(c.raw);
    const TargetCheck t = CheckTarget(c.raw, PathMode::kNpm);
    ASSERT_TRUE(t.ok()) << t.detail;
    EXPECT_EQ(t.target.path, c.raw);  // forwarded byte for byte
    EXPECT_EQ(t.target.decision_path(), c.decision);
    // Strict mode refuses every one of them.
    const TargetCheck strict = CheckTarget(c.raw);
    EXPECT_EQ(strict.reason, Reason::kPathInvalid);
    EXPECT_THAT(std::string(strict.detail), HasSubstr("percent-encoded '/'"));
    // Idempotent in npm mode.
    const TargetCheck again = CheckTarget(t.target.path, PathMode::kNpm);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.target.decision_path(), c.decision);
  }
}

TEST(NpmPathMode, LoosensNothingElse) {
  for (absl::string_view raw : {
           "/a%2Fb",  // not after a scope
           "/a%2fb",          "/%2Fx",
           "/@%2fx",           // empty scope
           "/@acme%2f",        // empty name
           "/@acme%2f/x",      // empty name
           "/@acme%2f%2fx",    // two escapes of '/'
           "/@acme%2fa%2fb",   // two escapes of '/'
           "/@acme%2f..",      // dot segment after decoding
           "/@acme%2f.",       // dot segment after decoding
           "/@acme%2f../x",    // dot segment after decoding
           "/%40acme%2fx",     // the scope itself escaped
           "/@ac%40me%2fx",    // an escape inside the scope
           "/@acme/x%2fy",     // not directly after a scope
           "/x/@acme/%2fy",    // not directly after a scope
           "/@acme%2e%2fx",    // %2E stays refused
           "/@acme%5cx",       // backslash
           "/@acme%252fx",     // double encoding
           "/@acme%3ax",       // lower-case hex elsewhere
           "/@acme/w%40x%2F",  // trailing
           "/@acme%2F%2E%2E",
       }) {
    SCOPED_TRACE(raw);
    const TargetCheck t = CheckTarget(raw, PathMode::kNpm);
    EXPECT_EQ(t.reason, Reason::kPathInvalid);
    EXPECT_FALSE(t.detail.empty());
  }
}

}  // namespace
}  // namespace pat::policy
