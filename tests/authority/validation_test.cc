// Input validation: every bad request fails with the precise code (and, for
// INVALID_ARGUMENT, a message naming the field) and changes nothing in the
// database.

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::absl::StatusCode;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int kBulkFiles = 101;

std::string BulkFileId(int i) { return absl::StrFormat("BULK%03d", i); }
std::string BulkFileLink(int i) {
  return absl::StrCat("https://figma.com/design/", BulkFileId(i));
}
std::vector<std::string> BulkLinks(int n) {
  std::vector<std::string> links;
  for (int i = 0; i < n; ++i) links.push_back(BulkFileLink(i));
  return links;
}

struct Case {
  std::string what;
  std::function<grpc::Status()> call;
  StatusCode code;
  // Expected in the message (INVALID_ARGUMENT names the field); empty: any.
  std::string field;
};

class ValidationTest : public SeededAuthorityTest {
 protected:
  void SetUp() override {
    SeededAuthorityTest::SetUp();
    if (HasFatalFailure()) return;
    for (int i = 0; i < kBulkFiles; ++i) {
      UpsertResource(h(), kPlanA, v1::RESOURCE_KIND_FILE, BulkFileId(i),
                     v1::RESOURCE_KIND_PROJECT, "projA");
    }
    token_a_ = MustCreate(h(), kAlice, MakeCreateRequest()).token();
    token_b_ = MustCreate(h(), kBob, MakeCreateRequest(kPlanB)).token();
    ASSERT_FALSE(HasFailure());
  }

  // Runs each case and checks its status and that the database is unchanged.
  void RunCases(const std::vector<Case>& cases) {
    std::vector<std::string> before = DumpDatabase(h());
    ASSERT_THAT(before, ::testing::Not(IsEmpty()));
    const int64_t tokens_before = CountRows(h(), "tokens");
    const size_t audit_before = ListAllAuditEvents(h(), kAlice, kPlanA).size();
    for (const Case& c : cases) {
      SCOPED_TRACE(c.what);
      grpc::Status s = c.call();
      if (c.field.empty()) {
        EXPECT_THAT(s, StatusCodeIs(c.code));
      } else {
        EXPECT_THAT(s, StatusIs(c.code, HasSubstr(c.field)));
      }
      std::vector<std::string> after = DumpDatabase(h());
      if (after != before) {
        ADD_FAILURE() << "the failed request changed the database";
        before = std::move(after);  // report each offender once
      }
    }
    EXPECT_EQ(CountRows(h(), "tokens"), tokens_before);
    EXPECT_EQ(ListAllAuditEvents(h(), kAlice, kPlanA).size(), audit_before);
  }

  // A create case: a valid request edited by `edit`.
  Case BadCreate(std::string what,
                 std::function<void(v1::CreateTokenRequest&)> edit,
                 std::string field,
                 StatusCode code = StatusCode::kInvalidArgument) {
    return {std::move(what),
            [this, edit = std::move(edit)] {
              v1::CreateTokenRequest req = MakeCreateRequest();
              edit(req);
              v1::CreateTokenResponse resp;
              return CreateToken(h(), kAlice, req, &resp);
            },
            code, std::move(field)};
  }

  // An update case on token_a_ with `mask`, edited by `edit`.
  Case BadUpdate(std::string what, std::vector<std::string> mask,
                 std::function<void(v1::UpdateTokenRequest&)> edit,
                 std::string field) {
    return {std::move(what),
            [this, mask = std::move(mask), edit = std::move(edit)] {
              v1::UpdateTokenRequest req =
                  MakeUpdateRequest(kPlanA, token_a_.id(), mask);
              edit(req);
              v1::Token resp;
              return UpdateToken(h(), kAlice, req, &resp);
            },
            StatusCode::kInvalidArgument, std::move(field)};
  }

  v1::Token token_a_;
  v1::Token token_b_;
};

TEST_F(ValidationTest, CreateRejectsBadInput) {
  const std::string kResourceLinks = "resource_links";
  std::vector<Case> cases = {
      BadCreate(
          "empty name", [](auto& r) { r.set_name(""); }, "name"),
      BadCreate(
          "129-char name", [](auto& r) { r.set_name(std::string(129, 'x')); },
          "name"),
      BadCreate(
          "1025-char description",
          [](auto& r) { r.set_description(std::string(1025, 'x')); },
          "description"),
      BadCreate(
          "0 days", [](auto& r) { r.set_expires_in_days(0); },
          "expires_in_days"),
      BadCreate(
          "366 days", [](auto& r) { r.set_expires_in_days(366); },
          "expires_in_days"),
      BadCreate(
          "-1 days", [](auto& r) { r.set_expires_in_days(-1); },
          "expires_in_days"),
      BadCreate(
          "INT32_MIN days", [](auto& r) { r.set_expires_in_days(INT32_MIN); },
          "expires_in_days"),
      BadCreate(
          "INT32_MAX days", [](auto& r) { r.set_expires_in_days(INT32_MAX); },
          "expires_in_days"),
      BadCreate(
          "no scopes", [](auto& r) { r.clear_scopes(); }, "scopes"),
      BadCreate(
          "unknown scope", [](auto& r) { r.add_scopes("files:delete"); },
          "files:delete"),
      BadCreate(
          "excluded file_comments:write",
          [](auto& r) { r.add_scopes("file_comments:write"); },
          "file_comments:write"),
      BadCreate(
          "excluded file_variables:write",
          [](auto& r) { r.add_scopes("file_variables:write"); },
          "file_variables:write"),
      BadCreate(
          "excluded file_code_connect:write",
          [](auto& r) { r.add_scopes("file_code_connect:write"); },
          "file_code_connect:write"),
      BadCreate(
          "npm scope on a REST token",
          [](auto& r) { r.add_scopes("packages:write"); }, "scopes"),
      BadCreate(
          "kind UNSPECIFIED",
          [](auto& r) { r.set_kind(v1::TOKEN_KIND_UNSPECIFIED); }, "kind"),
      BadCreate(
          "kind out of range",
          [](auto& r) { r.set_kind(static_cast<v1::TokenKind>(99)); }, "kind"),
      BadCreate(
          "neither all_resources nor links",
          [](auto& r) { r.set_all_resources(false); }, kResourceLinks),
      BadCreate(
          "both all_resources and links",
          [](auto& r) { r.add_resource_links(kLinkFileA1); }, kResourceLinks),
      BadCreate(
          "101 links",
          [](auto& r) {
            r.set_all_resources(false);
            for (const std::string& l : BulkLinks(101)) {
              r.add_resource_links(l);
            }
          },
          kResourceLinks),
      BadCreate(
          "another org's project",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links(kLinkProjectB);
          },
          kResourceLinks),
      BadCreate(
          "another org's file",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links(kLinkFileB1);
          },
          kResourceLinks),
      BadCreate(
          "a good link and another org's link",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links(kLinkFileA1);
            r.add_resource_links(kLinkFileB1);
          },
          kResourceLinks),
      BadCreate(
          "a link not in the directory",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links("https://figma.com/design/NOSUCHFILE");
          },
          kResourceLinks),
      BadCreate(
          "http link",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links("http://figma.com/design/FILEA1");
          },
          kResourceLinks),
      BadCreate(
          "link with user info",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links("https://evil.com@figma.com/design/FILEA1");
          },
          kResourceLinks),
      BadCreate(
          "link with a port",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links("https://figma.com:8443/design/FILEA1");
          },
          kResourceLinks),
      BadCreate(
          "link with a fragment",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links("https://figma.com/design/FILEA1#x");
          },
          kResourceLinks),
      BadCreate(
          "empty link",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links("");
          },
          kResourceLinks),
      BadCreate(
          "3000-byte link",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links(absl::StrCat(
                "https://figma.com/design/FILEA1/", std::string(3000, 's')));
          },
          kResourceLinks),
      BadCreate(
          "npm scope link on a REST token",
          [](auto& r) {
            r.set_all_resources(false);
            r.add_resource_links(kNpmScopeA);
          },
          kResourceLinks),
      BadCreate(
          "request_id with spaces",
          [](auto& r) { r.set_request_id("not a valid id"); }, "request_id"),
      BadCreate(
          "129-char request_id",
          [](auto& r) { r.set_request_id(std::string(129, 'r')); },
          "request_id"),
      BadCreate(
          "5 MiB description (gRPC max message size)",
          [](auto& r) { r.set_description(std::string(5 * 1024 * 1024, 'x')); },
          "", StatusCode::kResourceExhausted),
  };
  // An npm token with REST scopes.
  cases.push_back({"npm token with a REST scope",
                   [this] {
                     v1::CreateTokenRequest r =
                         MakeCreateRequest(kPlanA, v1::TOKEN_KIND_NPM_REGISTRY);
                     r.add_scopes("files:read");
                     v1::CreateTokenResponse resp;
                     return CreateToken(h(), kAlice, r, &resp);
                   },
                   StatusCode::kInvalidArgument, "scopes"});
  cases.push_back({"npm token with a figma link",
                   [this] {
                     v1::CreateTokenRequest r = MakeCreateRequestWithLinks(
                         kPlanA, {kLinkFileA1}, v1::TOKEN_KIND_NPM_REGISTRY);
                     v1::CreateTokenResponse resp;
                     return CreateToken(h(), kAlice, r, &resp);
                   },
                   StatusCode::kInvalidArgument, kResourceLinks});
  RunCases(cases);
}

TEST_F(ValidationTest, HundredLinksAreTheLimit) {
  v1::CreateTokenResponse created = MustCreate(
      h(), kAlice, MakeCreateRequestWithLinks(kPlanA, BulkLinks(100)));
  EXPECT_THAT(created.token().resources(), SizeIs(100));
  v1::UpdateTokenRequest u =
      MakeUpdateRequest(kPlanA, created.token().id(), {"resources"});
  for (const std::string& l : BulkLinks(101)) u.add_resource_links(l);
  v1::Token out;
  EXPECT_THAT(UpdateToken(h(), kAlice, u, &out),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("resource_links"), HasSubstr("100"))));
  v1::CreateTokenResponse resp;
  EXPECT_THAT(
      CreateToken(h(), kAlice,
                  MakeCreateRequestWithLinks(kPlanA, BulkLinks(101)), &resp),
      StatusIs(StatusCode::kInvalidArgument,
               AllOf(HasSubstr("resource_links"), HasSubstr("100"))));
  EXPECT_THAT(MustGet(h(), kAlice, kPlanA, created.token().id()).resources(),
              SizeIs(100));
}

TEST_F(ValidationTest, UpdateRejectsBadInput) {
  const std::string kMask = "update_mask";
  std::vector<Case> cases = {
      BadUpdate(
          "empty mask", {}, [](auto& r) { r.set_name("x"); }, kMask),
      BadUpdate(
          "unknown path", {"nonsense"}, [](auto& r) { r.set_name("x"); },
          kMask),
      BadUpdate(
          "known and unknown path", {"name", "nonsense"},
          [](auto& r) { r.set_name("x"); }, kMask),
      BadUpdate(
          "id is immutable", {"id"}, [](auto&) {}, kMask),
      BadUpdate(
          "kind is immutable", {"kind"}, [](auto&) {}, kMask),
      BadUpdate(
          "plan_id is immutable", {"plan_id"}, [](auto&) {}, kMask),
      BadUpdate(
          "expire_time is immutable", {"expire_time"}, [](auto&) {}, kMask),
      BadUpdate(
          "status is immutable", {"status"}, [](auto&) {}, kMask),
      BadUpdate(
          "empty name", {"name"}, [](auto& r) { r.set_name(""); }, "name"),
      BadUpdate(
          "129-char name", {"name"},
          [](auto& r) { r.set_name(std::string(129, 'x')); }, "name"),
      BadUpdate(
          "1025-char description", {"description"},
          [](auto& r) { r.set_description(std::string(1025, 'x')); },
          "description"),
      BadUpdate(
          "no scopes", {"scopes"}, [](auto&) {}, "scopes"),
      BadUpdate(
          "excluded scope", {"scopes"},
          [](auto& r) { r.add_scopes("file_code_connect:write"); },
          "file_code_connect:write"),
      BadUpdate(
          "unknown scope", {"scopes"},
          [](auto& r) { r.add_scopes("files:delete"); }, "files:delete"),
      BadUpdate(
          "no resources", {"resources"}, [](auto&) {}, "resource_links"),
      BadUpdate(
          "both resource forms", {"resources"},
          [](auto& r) {
            r.set_all_resources(true);
            r.add_resource_links(kLinkFileA1);
          },
          "resource_links"),
      BadUpdate(
          "another org's link", {"resources"},
          [](auto& r) { r.add_resource_links(kLinkProjectB); },
          "resource_links"),
      BadUpdate(
          "a link not in the directory", {"resources"},
          [](auto& r) {
            r.add_resource_links("https://figma.com/design/NOSUCHFILE");
          },
          "resource_links"),
  };
  RunCases(cases);
}

TEST_F(ValidationTest, TokenIdsAreCheckedBeforeLookup) {
  const std::vector<std::string> malformed = {
      "",
      "tok_",
      "tok_short",
      "tok_0123456789abcdefABCDEFG",  // 23 characters
      "tok_0123456789abcdefABCDE",    // 21 characters
      "TOK_0123456789abcdefABCDEF",
      "key_0123456789abcdefABCDEF",
      "tok_0123456789abcdefABCD!F",
      "tok_0123456789abcdefABCD-F",
      "tok_' OR '1'='1' --",
      "tok_0123456789abcdefABC%20",
      std::string("tok_0123456789abcdefA\0CDEF", 26),
      "tok_0123456789abcdefABCDEF ",
      std::string(10000, 'a'),
  };
  std::vector<Case> cases;
  for (const PlanRpc& rpc : TokenRpcs()) {
    for (const std::string& id : malformed) {
      // ListAuditEvents treats an empty token_id as "every token".
      if (id.empty() && rpc.name == "ListAuditEvents(token)") continue;
      cases.push_back(
          {absl::StrCat(rpc.name, " malformed id #", cases.size()),
           [this, rpc, id] { return rpc.call(h(), kAlice, kPlanA, id); },
           StatusCode::kInvalidArgument, "token_id"});
    }
    for (const std::string& id :
         {std::string(kUnknownTokenId), std::string(kUnknownTokenId2),
          token_b_.id()}) {
      cases.push_back(
          {absl::StrCat(rpc.name, " unknown id ", id),
           [this, rpc, id] { return rpc.call(h(), kAlice, kPlanA, id); },
           StatusCode::kNotFound, ""});
    }
  }
  RunCases(cases);
}

TEST_F(ValidationTest, ListingsRejectBadPaging) {
  auto list_tokens = [this](int page_size, std::string page_token) {
    return [this, page_size, page_token] {
      v1::ListTokensRequest req;
      req.set_plan_id(kPlanA);
      req.set_page_size(page_size);
      req.set_page_token(page_token);
      v1::ListTokensResponse resp;
      return ListTokens(h(), kAlice, req, &resp);
    };
  };
  auto list_audit = [this](int page_size, std::string page_token) {
    return [this, page_size, page_token] {
      v1::ListAuditEventsRequest req;
      req.set_plan_id(kPlanA);
      req.set_page_size(page_size);
      req.set_page_token(page_token);
      v1::ListAuditEventsResponse resp;
      return ListAuditEvents(h(), kAlice, req, &resp);
    };
  };
  RunCases({
      {"ListTokens page_size 1001", list_tokens(1001, ""),
       StatusCode::kInvalidArgument, "page_size"},
      {"ListTokens page_size -1", list_tokens(-1, ""),
       StatusCode::kInvalidArgument, "page_size"},
      {"ListTokens page_size INT32_MIN", list_tokens(INT32_MIN, ""),
       StatusCode::kInvalidArgument, "page_size"},
      {"ListTokens garbage page_token", list_tokens(10, "garbage"),
       StatusCode::kInvalidArgument, "page_token"},
      {"ListTokens SQL page_token", list_tokens(10, "' OR 1=1 --"),
       StatusCode::kInvalidArgument, "page_token"},
      {"ListAuditEvents page_size -1", list_audit(-1, ""),
       StatusCode::kInvalidArgument, "page_size"},
      {"ListAuditEvents page_size 1001", list_audit(1001, ""),
       StatusCode::kInvalidArgument, "page_size"},
      {"ListAuditEvents garbage page_token", list_audit(10, "garbage"),
       StatusCode::kInvalidArgument, "page_token"},
  });
  // The accepted range.
  for (int size : {0, 1, 1000}) {
    EXPECT_THAT(list_tokens(size, "")(), IsOk()) << size;
    EXPECT_THAT(list_audit(size, "")(), IsOk()) << size;
  }
}

TEST_F(ValidationTest, RefreshRejectsBadRequestIds) {
  auto refresh = [this](std::string request_id) {
    return [this, request_id] {
      v1::RefreshTokenResponse resp;
      return RefreshToken(h(), kAlice, kPlanA, token_a_.id(), request_id,
                          &resp);
    };
  };
  RunCases({
      {"request_id with spaces", refresh("has spaces"),
       StatusCode::kInvalidArgument, "request_id"},
      {"129-char request_id", refresh(std::string(129, 'r')),
       StatusCode::kInvalidArgument, "request_id"},
      {"request_id with a slash", refresh("a/b"), StatusCode::kInvalidArgument,
       "request_id"},
  });
}

TEST_F(ValidationTest, ValidateTokenRejectsBadDigests) {
  auto validate = [this](std::string bytes) {
    return [this, bytes] {
      v1::ValidateTokenRequest req;
      req.set_secret_sha256(bytes);
      v1::ValidateTokenResponse resp;
      return h().introspection().ValidateToken(AuthorityHarness::Ctx("").get(),
                                               req, &resp);
    };
  };
  RunCases({
      {"empty digest", validate(""), StatusCode::kInvalidArgument,
       "secret_sha256"},
      {"31-byte digest", validate(std::string(31, 'x')),
       StatusCode::kInvalidArgument, "secret_sha256"},
      {"33-byte digest", validate(std::string(33, 'x')),
       StatusCode::kInvalidArgument, "secret_sha256"},
      {"hex instead of bytes", validate(std::string(64, 'a')),
       StatusCode::kInvalidArgument, "secret_sha256"},
  });
  // A well-formed unknown digest is simply not found.
  v1::ValidateTokenResponse v = Validate(h(), "pat_rest_unknown");
  EXPECT_FALSE(v.found());
}

}  // namespace
}  // namespace pat::testing
