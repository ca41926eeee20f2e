// Broken object-level authorization (threat checklist; OWASP API1): every
// TokenService RPC, called by someone who is not an admin of the token's plan,
// fails with the exact code and changes nothing. The RPCs are enumerated from
// the service descriptor: a method without a row in the table of how to call
// it (AllPlanRpcs / TokenRpcs, or kNotPlanAddressed) fails the test, so a new
// RPC cannot be added without BOLA coverage.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/pat.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::absl::StatusCode;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// TokenService methods that take no plan id, with the test that covers them.
const std::map<std::string, std::string>& NotPlanAddressed() {
  static const auto* methods = new std::map<std::string, std::string>{
      {"ListPlans", "ListingsNeverIncludeAnotherPlansTokens"},
  };
  return *methods;
}

// The RPC a table row calls: "ListAuditEvents(token)" -> "ListAuditEvents".
std::string MethodOf(const PlanRpc& rpc) {
  return rpc.name.substr(0, rpc.name.find('('));
}

// Every method of pat.v1.TokenService, from its descriptor.
std::vector<const google::protobuf::MethodDescriptor*> TokenServiceMethods() {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::TokenService::service_full_name());
  std::vector<const google::protobuf::MethodDescriptor*> methods;
  if (service == nullptr) {
    ADD_FAILURE() << "no descriptor for "
                  << v1::TokenService::service_full_name();
    return methods;
  }
  for (int i = 0; i < service->method_count(); ++i) {
    methods.push_back(service->method(i));
  }
  return methods;
}

// The rows of `table` for each TokenService method, in descriptor order.
// Fails the test for a method with no row (and not in NotPlanAddressed), for
// a row naming no method, and when `table` is empty.
std::vector<PlanRpc> RowsForEveryMethod(std::vector<PlanRpc> table,
                                        bool token_rpcs_only) {
  std::map<std::string, std::vector<PlanRpc>> by_method;
  for (PlanRpc& rpc : table) by_method[MethodOf(rpc)].push_back(std::move(rpc));
  std::vector<PlanRpc> ordered;
  for (const google::protobuf::MethodDescriptor* method :
       TokenServiceMethods()) {
    const bool takes_plan =
        method->input_type()->FindFieldByName("plan_id") != nullptr;
    const bool takes_token =
        method->input_type()->FindFieldByName("token_id") != nullptr;
    auto it = by_method.find(method->name());
    if (it == by_method.end()) {
      if (NotPlanAddressed().contains(method->name())) {
        EXPECT_FALSE(takes_plan)
            << method->full_name() << " takes a plan_id: give it a row";
        continue;
      }
      if (token_rpcs_only && !takes_token) continue;
      ADD_FAILURE() << method->full_name()
                    << " has no row in the BOLA table (tests/support/"
                       "fixtures.cc AllPlanRpcs/TokenRpcs): add one";
      continue;
    }
    for (PlanRpc& rpc : it->second) {
      // A method with a token id is checked in its token form too.
      if (rpc.takes_token_id) {
        EXPECT_TRUE(takes_token) << rpc.name << " takes no token_id";
      }
      ordered.push_back(std::move(rpc));
    }
    by_method.erase(it);
  }
  for (const auto& [name, rpcs] : by_method) {
    ADD_FAILURE() << "table row " << name << " is not a TokenService method";
  }
  EXPECT_FALSE(ordered.empty());
  return ordered;
}

TEST(BolaCoverageTest, EveryTokenServiceRpcHasARow) {
  const std::vector<PlanRpc> all = RowsForEveryMethod(AllPlanRpcs(), false);
  std::set<std::string> covered;
  for (const PlanRpc& rpc : all) covered.insert(MethodOf(rpc));
  std::set<std::string> token_covered;
  for (const PlanRpc& rpc : RowsForEveryMethod(TokenRpcs(), true)) {
    token_covered.insert(MethodOf(rpc));
  }
  for (const google::protobuf::MethodDescriptor* method :
       TokenServiceMethods()) {
    SCOPED_TRACE(method->full_name());
    const std::string name(method->name());
    EXPECT_TRUE(covered.contains(name) || NotPlanAddressed().contains(name));
    // Every RPC that addresses a token is in the token table, which the
    // indistinguishability test walks.
    if (method->input_type()->FindFieldByName("token_id") != nullptr) {
      EXPECT_TRUE(token_covered.contains(name));
    }
  }
}

class BolaTest : public SeededAuthorityTest {
 protected:
  void SetUp() override {
    SeededAuthorityTest::SetUp();
    if (HasFatalFailure()) return;
    a_ = MustCreate(h(), kAlice, MakeCreateRequest(kPlanA));
    b_ = MustCreate(h(), kBob,
                    MakeCreateRequestWithLinks(kPlanB, {kLinkFileB1}));
    ASSERT_FALSE(HasFailure());
    // Give B's token some history: an edit and a refresh.
    clock().Advance(absl::Hours(1));
    v1::UpdateTokenRequest u =
        MakeUpdateRequest(kPlanB, b_.token().id(), {"description"});
    u.set_description("B's deploy token");
    MustUpdate(h(), kBob, u);
    b_refreshed_ = MustRefresh(h(), kBob, kPlanB, b_.token().id());
    clock().Advance(absl::Hours(1));
    ASSERT_FALSE(HasFailure());
    SnapshotBefore();
  }

  void SnapshotBefore() {
    a_before_ = MustGet(h(), kAlice, kPlanA, a_.token().id());
    b_before_ = MustGet(h(), kBob, kPlanB, b_.token().id());
    a_audit_before_ = ListAllAuditEvents(h(), kAlice, kPlanA);
    b_audit_before_ = ListAllAuditEvents(h(), kBob, kPlanB);
    tokens_before_ = CountRows(h(), "tokens");
    ASSERT_FALSE(HasFailure());
  }

  // Both plans' tokens and audit logs are exactly as before; B's secrets
  // still work.
  void ExpectNothingChanged() {
    v1::Token b_after = MustGet(h(), kBob, kPlanB, b_.token().id());
    EXPECT_TRUE(MessageDifferencer::Equals(b_after, b_before_))
        << "before: " << b_before_.DebugString()
        << "after: " << b_after.DebugString();
    EXPECT_EQ(b_after.SerializeAsString(), b_before_.SerializeAsString());
    v1::Token a_after = MustGet(h(), kAlice, kPlanA, a_.token().id());
    EXPECT_TRUE(MessageDifferencer::Equals(a_after, a_before_));
    ExpectSameEvents(ListAllAuditEvents(h(), kBob, kPlanB), b_audit_before_);
    ExpectSameEvents(ListAllAuditEvents(h(), kAlice, kPlanA), a_audit_before_);
    EXPECT_EQ(CountRows(h(), "tokens"), tokens_before_);
    EXPECT_TRUE(WorksAt(Validate(h(), b_refreshed_.secret()), Now()));
    EXPECT_TRUE(WorksAt(Validate(h(), b_.secret()), Now()));
    EXPECT_TRUE(WorksAt(Validate(h(), a_.secret()), Now()));
  }

  static void ExpectSameEvents(const std::vector<v1::AuditEvent>& after,
                               const std::vector<v1::AuditEvent>& before) {
    ASSERT_THAT(after, SizeIs(before.size()));
    for (size_t i = 0; i < before.size(); ++i) {
      EXPECT_TRUE(MessageDifferencer::Equals(after[i], before[i]))
          << "event " << i << " differs: " << after[i].DebugString();
    }
  }

  v1::CreateTokenResponse a_;
  v1::CreateTokenResponse b_;
  v1::RefreshTokenResponse b_refreshed_;
  v1::Token a_before_;
  v1::Token b_before_;
  std::vector<v1::AuditEvent> a_audit_before_;
  std::vector<v1::AuditEvent> b_audit_before_;
  int64_t tokens_before_ = 0;
};

enum class Target { kTokenA, kTokenB, kUnknownToken };

struct Row {
  std::string what;
  std::string actor;
  std::string plan_id;
  Target token;
  StatusCode expected;
  // True when the actor administers plan_id: plan-level RPCs (Create, List)
  // would legitimately succeed, so only token RPCs are checked.
  bool token_rpcs_only;
};

std::vector<Row> Rows() {
  return {
      {"admin of A, plan A, B's token", kAlice, kPlanA, Target::kTokenB,
       StatusCode::kNotFound, true},
      {"admin of A, plan B, B's token", kAlice, kPlanB, Target::kTokenB,
       StatusCode::kPermissionDenied, false},
      {"admin of A, plan B, A's token", kAlice, kPlanB, Target::kTokenA,
       StatusCode::kPermissionDenied, false},
      {"admin of B, plan B, A's token", kBob, kPlanB, Target::kTokenA,
       StatusCode::kNotFound, true},
      {"admin of B, plan A, A's token", kBob, kPlanA, Target::kTokenA,
       StatusCode::kPermissionDenied, false},
      {"admin of A, unknown plan, B's token", kAlice, kUnknownPlan,
       Target::kTokenB, StatusCode::kPermissionDenied, false},
      {"admin of a STARTER plan, plan B, B's token", kSam, kPlanB,
       Target::kTokenB, StatusCode::kPermissionDenied, false},
      {"non-admin, plan B, B's token", kMallory, kPlanB, Target::kTokenB,
       StatusCode::kPermissionDenied, false},
      {"non-admin, plan A, A's token", kMallory, kPlanA, Target::kTokenA,
       StatusCode::kPermissionDenied, false},
      {"non-admin, unknown plan", kMallory, kUnknownPlan, Target::kUnknownToken,
       StatusCode::kPermissionDenied, false},
      {"no actor, plan B, B's token", kNoActor, kPlanB, Target::kTokenB,
       StatusCode::kUnauthenticated, false},
      {"no actor, plan A, A's token", kNoActor, kPlanA, Target::kTokenA,
       StatusCode::kUnauthenticated, false},
      {"no actor, unknown plan", kNoActor, kUnknownPlan, Target::kUnknownToken,
       StatusCode::kUnauthenticated, false},
  };
}

TEST_F(BolaTest, EveryRpcRefusesEveryoneButThePlansAdmins) {
  for (const Row& row : Rows()) {
    const std::string token_id = row.token == Target::kTokenA ? a_.token().id()
                                 : row.token == Target::kTokenB
                                     ? b_.token().id()
                                     : kUnknownTokenId;
    for (const PlanRpc& rpc : RowsForEveryMethod(AllPlanRpcs(), false)) {
      if (row.token_rpcs_only && !rpc.takes_token_id) continue;
      SCOPED_TRACE(absl::StrCat(rpc.name, " — ", row.what));
      grpc::Status s = rpc.call(h(), row.actor, row.plan_id, token_id);
      EXPECT_THAT(s, StatusCodeIs(row.expected));
      // Whatever the message says, it never names the other plan's token.
      EXPECT_THAT(s.error_message(), Not(HasSubstr(b_before_.description())));
    }
  }
  ExpectNothingChanged();
}

TEST_F(BolaTest, OtherPlansTokenIsIndistinguishableFromUnknownToken) {
  for (const PlanRpc& rpc : RowsForEveryMethod(TokenRpcs(), true)) {
    SCOPED_TRACE(rpc.name);
    grpc::Status existing = rpc.call(h(), kAlice, kPlanA, b_.token().id());
    grpc::Status unknown = rpc.call(h(), kAlice, kPlanA, kUnknownTokenId);
    EXPECT_THAT(existing, StatusCodeIs(StatusCode::kNotFound));
    EXPECT_THAT(unknown, StatusCodeIs(StatusCode::kNotFound));
    // Same message once the id itself is masked.
    EXPECT_EQ(absl::StrReplaceAll(existing.error_message(),
                                  {{b_.token().id(), "<id>"}}),
              absl::StrReplaceAll(unknown.error_message(),
                                  {{kUnknownTokenId, "<id>"}}));
  }
  ExpectNothingChanged();
}

TEST_F(BolaTest, ListingsNeverIncludeAnotherPlansTokens) {
  std::vector<v1::Token> a_tokens = ListAllTokens(h(), kAlice, kPlanA);
  ASSERT_THAT(a_tokens, SizeIs(1));
  EXPECT_EQ(a_tokens[0].id(), a_.token().id());
  for (const v1::AuditEvent& e : ListAllAuditEvents(h(), kAlice, kPlanA)) {
    EXPECT_EQ(e.plan_id(), kPlanA);
    EXPECT_NE(e.token_id(), b_.token().id());
  }
  v1::ListPlansResponse plans;
  ASSERT_THAT(h().tokens().ListPlans(AuthorityHarness::Ctx(kAlice).get(),
                                     v1::ListPlansRequest(), &plans),
              IsOk());
  for (const v1::Plan& p : plans.plans()) EXPECT_NE(p.id(), kPlanB);
  plans.Clear();
  ASSERT_THAT(h().tokens().ListPlans(AuthorityHarness::Ctx(kMallory).get(),
                                     v1::ListPlansRequest(), &plans),
              IsOk());
  EXPECT_THAT(plans.plans(), SizeIs(0));
  EXPECT_THAT(h().tokens().ListPlans(AuthorityHarness::Ctx(kNoActor).get(),
                                     v1::ListPlansRequest(), &plans),
              StatusCodeIs(StatusCode::kUnauthenticated));
  ExpectNothingChanged();
}

// The actor header cannot be bent into an admin's identity.
TEST_F(BolaTest, ActorHeaderIsTakenLiterally) {
  auto revoke_b_with = [&](const std::vector<std::string>& actor_values) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    for (const std::string& v : actor_values) ctx.AddMetadata("x-pat-actor", v);
    v1::RevokeTokenRequest req;
    req.set_plan_id(kPlanB);
    req.set_token_id(b_.token().id());
    v1::Token resp;
    return h().tokens().RevokeToken(&ctx, req, &resp);
  };
  const auto refused = AnyOf(StatusCodeIs(StatusCode::kPermissionDenied),
                             StatusCodeIs(StatusCode::kUnauthenticated));
  // Two actor headers, one of them the admin: ambiguous, never the admin.
  EXPECT_THAT(revoke_b_with({kMallory, kBob}), refused);
  EXPECT_THAT(revoke_b_with({kBob, kMallory}), refused);
  // Look-alikes of the admin's id.
  EXPECT_THAT(revoke_b_with({"BOB"}), refused);
  EXPECT_THAT(revoke_b_with({"bob,mallory"}), refused);
  EXPECT_THAT(revoke_b_with({"mallory,bob"}), refused);
  EXPECT_THAT(revoke_b_with({"*"}), refused);
  ExpectNothingChanged();
}

}  // namespace
}  // namespace pat::testing
