#include "tests/support/fixtures.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/secret.h"
#include "pqxx/pqxx"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;

std::string Describe(const grpc::Status& s) {
  return absl::StrCat("code ", static_cast<int>(s.error_code()), ": ",
                      s.error_message());
}

}  // namespace

void UpsertPlan(AuthorityHarness& h, absl::string_view id, v1::PlanTier tier,
                const std::vector<std::string>& admins) {
  v1::UpsertPlanRequest req;
  req.mutable_plan()->set_id(std::string(id));
  req.mutable_plan()->set_name(absl::StrCat("plan ", id));
  req.mutable_plan()->set_tier(tier);
  for (const std::string& a : admins) req.mutable_plan()->add_admin_user_ids(a);
  v1::Plan resp;
  grpc::Status s =
      h.directory().UpsertPlan(AuthorityHarness::Ctx("").get(), req, &resp);
  EXPECT_TRUE(s.ok()) << "UpsertPlan " << id << ": " << Describe(s);
}

void UpsertResource(AuthorityHarness& h, absl::string_view plan_id,
                    v1::ResourceKind kind, absl::string_view id,
                    v1::ResourceKind parent_kind, absl::string_view parent_id) {
  v1::UpsertResourceRequest req;
  v1::Resource* r = req.mutable_resource();
  r->set_plan_id(std::string(plan_id));
  r->set_kind(kind);
  r->set_id(std::string(id));
  r->set_parent_kind(parent_kind);
  r->set_parent_id(std::string(parent_id));
  r->set_name(absl::StrCat("resource ", id));
  v1::Resource resp;
  grpc::Status s =
      h.directory().UpsertResource(AuthorityHarness::Ctx("").get(), req, &resp);
  EXPECT_TRUE(s.ok()) << "UpsertResource " << id << ": " << Describe(s);
}

void SeedWorld(AuthorityHarness& h) {
  UpsertPlan(h, kPlanA, v1::PLAN_TIER_ORGANIZATION, {kAlice});
  UpsertPlan(h, kPlanB, v1::PLAN_TIER_ENTERPRISE, {kBob});
  UpsertPlan(h, kPlanS, v1::PLAN_TIER_STARTER, {kSam});

  UpsertResource(h, kPlanA, v1::RESOURCE_KIND_WORKSPACE, "wsA");
  UpsertResource(h, kPlanA, v1::RESOURCE_KIND_TEAM, "teamA",
                 v1::RESOURCE_KIND_WORKSPACE, "wsA");
  UpsertResource(h, kPlanA, v1::RESOURCE_KIND_PROJECT, "projA",
                 v1::RESOURCE_KIND_TEAM, "teamA");
  UpsertResource(h, kPlanA, v1::RESOURCE_KIND_FILE, "FILEA1",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  UpsertResource(h, kPlanA, v1::RESOURCE_KIND_FILE, "FILEA2",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  UpsertResource(h, kPlanA, v1::RESOURCE_KIND_NPM_SCOPE, kNpmScopeA);

  UpsertResource(h, kPlanB, v1::RESOURCE_KIND_WORKSPACE, "wsB");
  UpsertResource(h, kPlanB, v1::RESOURCE_KIND_TEAM, "teamB",
                 v1::RESOURCE_KIND_WORKSPACE, "wsB");
  UpsertResource(h, kPlanB, v1::RESOURCE_KIND_PROJECT, "projB",
                 v1::RESOURCE_KIND_TEAM, "teamB");
  UpsertResource(h, kPlanB, v1::RESOURCE_KIND_FILE, "FILEB1",
                 v1::RESOURCE_KIND_PROJECT, "projB");
}

std::string NewRequestId() {
  static std::atomic<int64_t> counter{0};
  return absl::StrCat("req-", counter.fetch_add(1) + 1);
}

v1::CreateTokenRequest MakeCreateRequest(absl::string_view plan_id,
                                         v1::TokenKind kind) {
  v1::CreateTokenRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_kind(kind);
  req.set_name("ci token");
  req.set_description("for tests");
  req.set_expires_in_days(30);
  req.add_scopes(kind == v1::TOKEN_KIND_NPM_REGISTRY ? "packages:read"
                                                     : "files:read");
  req.set_all_resources(true);
  req.set_request_id(NewRequestId());
  return req;
}

v1::CreateTokenRequest MakeCreateRequestWithLinks(
    absl::string_view plan_id, const std::vector<std::string>& links,
    v1::TokenKind kind) {
  v1::CreateTokenRequest req = MakeCreateRequest(plan_id, kind);
  req.set_all_resources(false);
  for (const std::string& l : links) req.add_resource_links(l);
  return req;
}

v1::UpdateTokenRequest MakeUpdateRequest(
    absl::string_view plan_id, absl::string_view token_id,
    const std::vector<std::string>& mask_paths) {
  v1::UpdateTokenRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_token_id(std::string(token_id));
  for (const std::string& p : mask_paths)
    req.mutable_update_mask()->add_paths(p);
  return req;
}

grpc::Status CreateToken(AuthorityHarness& h, absl::string_view actor,
                         const v1::CreateTokenRequest& req,
                         v1::CreateTokenResponse* resp) {
  return h.tokens().CreateToken(AuthorityHarness::Ctx(std::string(actor)).get(),
                                req, resp);
}

grpc::Status GetToken(AuthorityHarness& h, absl::string_view actor,
                      absl::string_view plan_id, absl::string_view token_id,
                      v1::Token* resp) {
  v1::GetTokenRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_token_id(std::string(token_id));
  return h.tokens().GetToken(AuthorityHarness::Ctx(std::string(actor)).get(),
                             req, resp);
}

grpc::Status ListTokens(AuthorityHarness& h, absl::string_view actor,
                        const v1::ListTokensRequest& req,
                        v1::ListTokensResponse* resp) {
  return h.tokens().ListTokens(AuthorityHarness::Ctx(std::string(actor)).get(),
                               req, resp);
}

grpc::Status UpdateToken(AuthorityHarness& h, absl::string_view actor,
                         const v1::UpdateTokenRequest& req, v1::Token* resp) {
  return h.tokens().UpdateToken(AuthorityHarness::Ctx(std::string(actor)).get(),
                                req, resp);
}

grpc::Status RefreshToken(AuthorityHarness& h, absl::string_view actor,
                          absl::string_view plan_id, absl::string_view token_id,
                          absl::string_view request_id,
                          v1::RefreshTokenResponse* resp) {
  v1::RefreshTokenRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_token_id(std::string(token_id));
  req.set_request_id(std::string(request_id));
  return h.tokens().RefreshToken(
      AuthorityHarness::Ctx(std::string(actor)).get(), req, resp);
}

grpc::Status RevokeToken(AuthorityHarness& h, absl::string_view actor,
                         absl::string_view plan_id, absl::string_view token_id,
                         v1::Token* resp) {
  v1::RevokeTokenRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_token_id(std::string(token_id));
  return h.tokens().RevokeToken(AuthorityHarness::Ctx(std::string(actor)).get(),
                                req, resp);
}

grpc::Status ListAuditEvents(AuthorityHarness& h, absl::string_view actor,
                             const v1::ListAuditEventsRequest& req,
                             v1::ListAuditEventsResponse* resp) {
  return h.tokens().ListAuditEvents(
      AuthorityHarness::Ctx(std::string(actor)).get(), req, resp);
}

v1::CreateTokenResponse MustCreate(AuthorityHarness& h, absl::string_view actor,
                                   const v1::CreateTokenRequest& req) {
  v1::CreateTokenResponse resp;
  grpc::Status s = CreateToken(h, actor, req, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "CreateToken as " << actor << ": " << Describe(s);
    return v1::CreateTokenResponse();
  }
  return resp;
}

v1::Token MustGet(AuthorityHarness& h, absl::string_view actor,
                  absl::string_view plan_id, absl::string_view token_id) {
  v1::Token resp;
  grpc::Status s = GetToken(h, actor, plan_id, token_id, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "GetToken " << token_id << ": " << Describe(s);
    return v1::Token();
  }
  return resp;
}

v1::RefreshTokenResponse MustRefresh(AuthorityHarness& h,
                                     absl::string_view actor,
                                     absl::string_view plan_id,
                                     absl::string_view token_id) {
  v1::RefreshTokenResponse resp;
  grpc::Status s =
      RefreshToken(h, actor, plan_id, token_id, NewRequestId(), &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "RefreshToken " << token_id << ": " << Describe(s);
    return v1::RefreshTokenResponse();
  }
  return resp;
}

v1::Token MustRevoke(AuthorityHarness& h, absl::string_view actor,
                     absl::string_view plan_id, absl::string_view token_id) {
  v1::Token resp;
  grpc::Status s = RevokeToken(h, actor, plan_id, token_id, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "RevokeToken " << token_id << ": " << Describe(s);
    return v1::Token();
  }
  return resp;
}

v1::Token MustUpdate(AuthorityHarness& h, absl::string_view actor,
                     const v1::UpdateTokenRequest& req) {
  v1::Token resp;
  grpc::Status s = UpdateToken(h, actor, req, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "UpdateToken " << req.token_id() << ": " << Describe(s);
    return v1::Token();
  }
  return resp;
}

std::vector<v1::Token> ListAllTokens(
    AuthorityHarness& h, absl::string_view actor, absl::string_view plan_id,
    v1::TokenKind kind, const std::vector<v1::TokenStatus>& statuses) {
  std::vector<v1::Token> out;
  v1::ListTokensRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_kind(kind);
  for (v1::TokenStatus st : statuses) req.add_statuses(st);
  req.set_page_size(100);
  for (int page = 0; page < 10000; ++page) {
    v1::ListTokensResponse resp;
    grpc::Status s = ListTokens(h, actor, req, &resp);
    if (!s.ok()) {
      ADD_FAILURE() << "ListTokens: " << Describe(s);
      return out;
    }
    for (const v1::Token& t : resp.tokens()) out.push_back(t);
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
  ADD_FAILURE() << "ListTokens never ended";
  return out;
}

std::vector<v1::AuditEvent> ListAllAuditEvents(AuthorityHarness& h,
                                               absl::string_view actor,
                                               absl::string_view plan_id,
                                               absl::string_view token_id) {
  std::vector<v1::AuditEvent> out;
  v1::ListAuditEventsRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_token_id(std::string(token_id));
  req.set_page_size(100);
  for (int page = 0; page < 10000; ++page) {
    v1::ListAuditEventsResponse resp;
    grpc::Status s = ListAuditEvents(h, actor, req, &resp);
    if (!s.ok()) {
      ADD_FAILURE() << "ListAuditEvents: " << Describe(s);
      return out;
    }
    for (const v1::AuditEvent& e : resp.events()) out.push_back(e);
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
  ADD_FAILURE() << "ListAuditEvents never ended";
  return out;
}

int CountActions(const std::vector<v1::AuditEvent>& events,
                 absl::string_view action) {
  return static_cast<int>(std::count_if(
      events.begin(), events.end(),
      [&](const v1::AuditEvent& e) { return e.action() == action; }));
}

std::string SecretDigestBytes(absl::string_view secret) {
  Digest d = Sha256(secret);
  return std::string(d.begin(), d.end());
}

v1::ValidateTokenResponse Validate(AuthorityHarness& h,
                                   absl::string_view secret) {
  v1::ValidateTokenRequest req;
  req.set_secret_sha256(SecretDigestBytes(secret));
  v1::ValidateTokenResponse resp;
  grpc::Status s = h.introspection().ValidateToken(
      AuthorityHarness::Ctx("").get(), req, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "ValidateToken: " << Describe(s);
    return v1::ValidateTokenResponse();
  }
  return resp;
}

bool WorksAt(const v1::ValidateTokenResponse& v, absl::Time now) {
  return v.found() && v.grant().status() == v1::TOKEN_STATUS_ACTIVE &&
         v.has_secret_expire_time() && ToTime(v.secret_expire_time()) > now;
}

std::string SecretBody(absl::string_view secret) {
  for (absl::string_view prefix : {kRestSecretPrefix, kNpmSecretPrefix}) {
    if (secret.substr(0, prefix.size()) == prefix) {
      return std::string(secret.substr(prefix.size()));
    }
  }
  return std::string(secret);
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// Enough grants to make a snapshot read non-trivial without thousands of
// CreateToken calls.
void BulkInsertTokens(AuthorityHarness& h, int n) {
  pqxx::connection conn(h.db().url());
  pqxx::work txn(conn);
  const int64_t now_s = absl::ToUnixSeconds(h.clock().Now());
  txn.exec_params(
      "INSERT INTO tokens (id, plan_id, kind, name, scopes, all_resources, "
      "created_by, create_time, expire_time, lifetime_days) "
      "SELECT 'tok_bulk' || lpad(i::text, 18, '0'), $1, 'rest_api', "
      "'bulk ' || i, ARRAY['files:read'], true, 'alice', to_timestamp($2), "
      "to_timestamp($2) + interval '30 days', 30 "
      "FROM generate_series(1, $3) AS i",
      std::string(kPlanA), now_s, n);
  txn.exec_params(
      "INSERT INTO token_secrets (digest, token_id, created_at) "
      "SELECT sha256(convert_to('bulk secret ' || i, 'UTF8')), "
      "'tok_bulk' || lpad(i::text, 18, '0'), to_timestamp($1) "
      "FROM generate_series(1, $2) AS i",
      now_s, n);
  txn.commit();
}

int64_t FeedHeadNow(AuthorityHarness& h) {
  pqxx::connection conn(h.db().url());
  pqxx::read_transaction txn(conn);
  return txn.exec1("SELECT revision FROM feed_head")[0].as<int64_t>();
}

bool Contiguous(const std::vector<int64_t>& live, int64_t after) {
  for (size_t i = 0; i < live.size(); ++i) {
    if (live[i] != after + 1 + static_cast<int64_t>(i)) return false;
  }
  return true;
}

std::string BulkTokenId(int i) {
  return absl::StrFormat("tok_bulk%018d", i);  // as BulkInsertTokens names them
}

int64_t CountRows(AuthorityHarness& h, absl::string_view table) {
  pqxx::connection conn(h.db().url());
  pqxx::read_transaction txn(conn);
  pqxx::row r = txn.exec1(absl::StrCat("SELECT count(*) FROM ",
                                       txn.quote_name(std::string(table))));
  return r[0].as<int64_t>();
}

std::vector<std::string> DumpDatabase(AuthorityHarness& h) {
  pqxx::connection conn(h.db().url());
  pqxx::read_transaction txn(conn);
  pqxx::result tables = txn.exec(
      "SELECT table_schema, table_name FROM information_schema.tables "
      "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
      "('pg_catalog', 'information_schema') ORDER BY 1, 2");
  std::vector<std::string> rows;
  for (const pqxx::row& t : tables) {
    std::string schema = t[0].as<std::string>();
    std::string table = t[1].as<std::string>();
    pqxx::result r =
        txn.exec(absl::StrCat("SELECT t::text FROM ", txn.quote_name(schema),
                              ".", txn.quote_name(table), " t"));
    for (const pqxx::row& row : r) {
      rows.push_back(
          absl::StrCat(schema, ".", table, ": ",
                       row[0].is_null() ? "<null>" : row[0].as<std::string>()));
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<PlanRpc> AllPlanRpcs() {
  std::vector<PlanRpc> rpcs;
  rpcs.push_back({"CreateToken", false,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string&) {
                    v1::CreateTokenResponse resp;
                    return CreateToken(h, actor, MakeCreateRequest(plan_id),
                                       &resp);
                  }});
  rpcs.push_back({"ListTokens", false,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string&) {
                    v1::ListTokensRequest req;
                    req.set_plan_id(plan_id);
                    v1::ListTokensResponse resp;
                    return ListTokens(h, actor, req, &resp);
                  }});
  rpcs.push_back({"ListAuditEvents(plan)", false,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string&) {
                    v1::ListAuditEventsRequest req;
                    req.set_plan_id(plan_id);
                    v1::ListAuditEventsResponse resp;
                    return ListAuditEvents(h, actor, req, &resp);
                  }});
  for (PlanRpc& rpc : TokenRpcs()) rpcs.push_back(std::move(rpc));
  return rpcs;
}

std::vector<PlanRpc> TokenRpcs() {
  std::vector<PlanRpc> rpcs;
  rpcs.push_back({"GetToken", true,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string& token_id) {
                    v1::Token resp;
                    return GetToken(h, actor, plan_id, token_id, &resp);
                  }});
  rpcs.push_back({"UpdateToken", true,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string& token_id) {
                    v1::UpdateTokenRequest req =
                        MakeUpdateRequest(plan_id, token_id, {"name"});
                    req.set_name("renamed by an intruder");
                    v1::Token resp;
                    return UpdateToken(h, actor, req, &resp);
                  }});
  rpcs.push_back({"RefreshToken", true,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string& token_id) {
                    v1::RefreshTokenResponse resp;
                    return RefreshToken(h, actor, plan_id, token_id,
                                        NewRequestId(), &resp);
                  }});
  rpcs.push_back({"RevokeToken", true,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string& token_id) {
                    v1::Token resp;
                    return RevokeToken(h, actor, plan_id, token_id, &resp);
                  }});
  rpcs.push_back({"ListAuditEvents(token)", true,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string& token_id) {
                    v1::ListAuditEventsRequest req;
                    req.set_plan_id(plan_id);
                    req.set_token_id(token_id);
                    v1::ListAuditEventsResponse resp;
                    return ListAuditEvents(h, actor, req, &resp);
                  }});
  rpcs.push_back({"CheckAccess", true,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string& token_id) {
                    v1::CheckAccessRequest req;
                    req.set_plan_id(plan_id);
                    req.set_token_id(token_id);
                    req.set_method("GET");
                    req.set_path("/v1/files/FILEA1");
                    v1::CheckAccessResponse resp;
                    return h.tokens().CheckAccess(
                        AuthorityHarness::Ctx(actor).get(), req, &resp);
                  }});
  rpcs.push_back({"GetTokenUsageReport", true,
                  [](AuthorityHarness& h, const std::string& actor,
                     const std::string& plan_id, const std::string& token_id) {
                    v1::GetTokenUsageReportRequest req;
                    req.set_plan_id(plan_id);
                    req.set_token_id(token_id);
                    v1::TokenUsageReport resp;
                    return h.tokens().GetTokenUsageReport(
                        AuthorityHarness::Ctx(actor).get(), req, &resp);
                  }});
  return rpcs;
}

void SeededAuthorityTest::SetUp() {
  ASSERT_NO_FATAL_FAILURE(harness_ = AuthorityHarness::Start());
  ASSERT_NE(harness_, nullptr);
  ASSERT_NO_FATAL_FAILURE(SeedWorld(*harness_));
  ASSERT_FALSE(HasFailure()) << "seeding failed";
}

}  // namespace pat::testing
