#ifndef PAT_TESTS_E2E_E2E_SUPPORT_H_
#define PAT_TESTS_E2E_E2E_SUPPORT_H_

// Shared pieces of the end-to-end tests: an in-process authority (real gRPC,
// real PostgreSQL) seeded with the fixtures.h world, an in-process sidecar
// stack in front of a sample upstream sharing the authority's FakeClock, and
// assertions on the sidecar's answers (SPEC §7).

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/scopes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.pb.h"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/sidecar_harness.h"

namespace pat::testing {

struct IssuedToken {
  std::string id;
  std::string secret;
};

// Every REST scope a plan token may hold.
inline std::vector<std::string> AllGrantableRestScopes() {
  std::vector<std::string> out;
  for (absl::string_view s : RestApiScopes()) {
    if (IsGrantableScope(TokenKind::kRestApi, s)) out.emplace_back(s);
  }
  return out;
}

// An authority seeded with SeedWorld and a sidecar in front of a sample
// upstream. The FakeClock is set to real time (whole microseconds) before
// anything is created, so tokens are valid for both clocks.
class E2eEnv {
 public:
  // ASSERT-fails the calling test (or suite set-up) and returns null on
  // error.
  // With `via_relay`, the sidecar reaches the authority through a TcpRelay
  // (relay()) that the test can cut.
  static std::unique_ptr<E2eEnv> Start(SidecarStackOptions options = {},
                                       bool via_relay = false) {
    std::unique_ptr<E2eEnv> env(new E2eEnv());
    env->authority_ = AuthorityHarness::Start();
    if (env->authority_ == nullptr) return nullptr;
    env->authority_->clock().Set(NowMicros());
    SeedWorld(*env->authority_);
    if (::testing::Test::HasFailure()) return nullptr;
    if (via_relay) {
      const std::string target = env->authority_->target();
      env->relay_ =
          TcpRelay::Start(std::stoi(target.substr(target.rfind(':') + 1)));
      if (env->relay_ == nullptr) return nullptr;
      options.authority_target = env->relay_->target();
    }
    env->sidecar_ = SidecarStack::Start(*env->authority_, options);
    if (env->sidecar_ == nullptr) return nullptr;
    return env;
  }
  ~E2eEnv() {
    sidecar_.reset();  // before the authority it watches
    relay_.reset();
    authority_.reset();
  }

  AuthorityHarness& h() { return *authority_; }
  SidecarStack& sidecar() { return *sidecar_; }
  FakeClock& clock() { return authority_->clock(); }
  TcpRelay* relay() { return relay_.get(); }
  int port() const { return sidecar_->port(); }

  // A fresh token of plan A (alice) with `scopes`, all resources or `links`.
  IssuedToken Create(const std::vector<std::string>& scopes,
                     bool all_resources = true,
                     const std::vector<std::string>& links = {},
                     v1::TokenKind kind = v1::TOKEN_KIND_REST_API,
                     absl::string_view plan_id = kPlanA,
                     absl::string_view actor = kAlice) {
    v1::CreateTokenRequest req =
        all_resources ? MakeCreateRequest(plan_id, kind)
                      : MakeCreateRequestWithLinks(plan_id, links, kind);
    req.clear_scopes();
    for (const std::string& s : scopes) req.add_scopes(s);
    v1::CreateTokenResponse resp = MustCreate(*authority_, actor, req);
    return {resp.token().id(), resp.secret()};
  }

  // GET through the sidecar with `Authorization: Bearer <secret>`.
  HttpResponse Get(absl::string_view target, absl::string_view secret) {
    return HttpGet(port(), target, Bearer(secret));
  }

 private:
  E2eEnv() = default;
  std::unique_ptr<AuthorityHarness> authority_;
  std::unique_ptr<TcpRelay> relay_;
  std::unique_ptr<SidecarStack> sidecar_;
};

// A fixture whose E2eEnv is shared by every test of the suite (each test
// makes its own tokens). Tests that move the FakeClock use their own E2eEnv.
class SharedE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { env_ = E2eEnv::Start(); }
  static void TearDownTestSuite() { env_.reset(); }
  void SetUp() override {
    ASSERT_NE(env_, nullptr) << "the end-to-end stack did not start";
  }
  E2eEnv& env() { return *env_; }

  static inline std::unique_ptr<E2eEnv> env_;
};

// The sidecar's denial (SPEC §7): `status`, a JSON body {"status","err",
// "reason"} with exactly these values (err non-empty), Content-Type JSON,
// WWW-Authenticate: Bearer error="invalid_token" on (and only on) 401s, and
// Retry-After on 503s.
inline void ExpectDenied(const HttpResponse& r, int status,
                         absl::string_view reason) {
  ASSERT_EQ(r.status, status) << r.Describe();
  const nlohmann::json body = r.Json();
  ASSERT_TRUE(body.is_object()) << r.Describe();
  EXPECT_EQ(body.value("status", 0), status) << r.body;
  EXPECT_EQ(body.value("reason", ""), std::string(reason)) << r.body;
  ASSERT_TRUE(body.contains("err") && body["err"].is_string()) << r.body;
  EXPECT_FALSE(body["err"].get<std::string>().empty()) << r.body;
  EXPECT_TRUE(absl::StartsWith(r.Header("Content-Type"), "application/json"))
      << r.Describe();
  if (status == 401) {
    EXPECT_EQ(r.HeaderCount("WWW-Authenticate"), 1) << r.Describe();
    EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer error=\"invalid_token\"")
        << r.Describe();
  } else {
    EXPECT_EQ(r.HeaderCount("WWW-Authenticate"), 0) << r.Describe();
  }
  if (status == 503) {
    EXPECT_FALSE(r.Header("Retry-After").empty()) << r.Describe();
  }
  EXPECT_FALSE(r.Header("X-Request-Id").empty()) << r.Describe();
}

// An allowed request: 200 from the upstream (its JSON echo), returned.
inline nlohmann::json ExpectForwarded(const HttpResponse& r) {
  EXPECT_EQ(r.status, 200) << r.Describe();
  nlohmann::json echo = r.Json();
  EXPECT_TRUE(echo.is_object() && echo.contains("target")) << r.Describe();
  return echo;
}

}  // namespace pat::testing

#endif  // PAT_TESTS_E2E_E2E_SUPPORT_H_
