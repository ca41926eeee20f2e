// Pure webhook rules: signatures (every tampering class), URL validation,
// the payload's fields, and the backoff bounds.

#include "server/webhooks/webhook_rules.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/webhooks/signature.h"
#include "tests/support/status_matchers.h"

namespace pat::webhooks {
namespace {

using ::absl::StatusCode;
using ::pat::testing::IsOk;
using ::pat::testing::StatusCodeIs;
using ::testing::HasSubstr;

const absl::Time kT = absl::FromUnixSeconds(1767225600);
constexpr absl::Duration kTolerance = absl::Minutes(5);

TEST(SignatureTest, VerifiesWithTheSecretAndNothingElse) {
  const std::string secret = GenerateSigningSecret();
  EXPECT_THAT(secret, ::testing::StartsWith("whsec_"));
  EXPECT_EQ(secret.size(), 6 + 43u);
  EXPECT_NE(secret, GenerateSigningSecret());
  const std::string body = R"({"type":"token.created"})";
  const std::string header = SignatureHeader(secret, kT, body);
  EXPECT_THAT(header, ::testing::StartsWith("t=1767225600,v1="));
  EXPECT_THAT(VerifySignature(secret, header, body, kT, kTolerance), IsOk());
  EXPECT_THAT(
      VerifySignature(secret, header, body, kT + kTolerance, kTolerance),
      IsOk());
  // Another secret, any changed body byte, stale or future timestamps, a
  // changed timestamp with the old MAC, malformed headers.
  EXPECT_THAT(
      VerifySignature(GenerateSigningSecret(), header, body, kT, kTolerance),
      StatusCodeIs(StatusCode::kUnauthenticated));
  for (size_t i = 0; i < body.size(); ++i) {
    std::string tampered = body;
    tampered[i] ^= 1;
    EXPECT_THAT(VerifySignature(secret, header, tampered, kT, kTolerance),
                StatusCodeIs(StatusCode::kUnauthenticated));
  }
  for (absl::Duration skew :
       {kTolerance + absl::Seconds(1), -kTolerance - absl::Seconds(1)}) {
    EXPECT_THAT(VerifySignature(secret, header, body, kT + skew, kTolerance),
                StatusCodeIs(StatusCode::kUnauthenticated));
  }
  const std::string mac = header.substr(header.find("v1="));
  EXPECT_THAT(VerifySignature(secret, absl::StrCat("t=1767225601,", mac), body,
                              kT, kTolerance),
              StatusCodeIs(StatusCode::kUnauthenticated));
  for (const std::string& bad :
       {std::string(""), std::string("t=1767225600"), mac,
        absl::StrCat("t=x,", mac), absl::StrCat("t=1,t=1767225600,", mac)}) {
    EXPECT_THAT(VerifySignature(secret, bad, body, kT, kTolerance),
                StatusCodeIs(StatusCode::kUnauthenticated))
        << bad;
  }
  // Key rotation style: several v1 values, one matching.
  EXPECT_THAT(VerifySignature(secret, absl::StrCat("t=1767225600,v1=00,", mac),
                              body, kT, kTolerance),
              IsOk());
}

TEST(ParseTargetTest, AcceptsHttpUrls) {
  auto t = ParseTarget("http://127.0.0.1:8080/hook?x=1");
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, "8080");
  EXPECT_EQ(t->target, "/hook?x=1");
  t = ParseTarget("http://hooks.example");
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->port, "80");
  EXPECT_EQ(t->target, "/");
  t = ParseTarget("http://[::1]:9/");
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, "9");
}

TEST(ParseTargetTest, RefusesEverythingElse) {
  for (const std::string& url : std::vector<std::string>{
           "", "https://x/", "ftp://x/", "http://", "http:///x", "http://u@h/",
           "http://h:0/", "http://h:65536/", "http://h:x/", "http://h/#f",
           "http://h/a b", "http://h/\x01", "http://[::1/",
           std::string("http://h/") + std::string(kMaxUrlLength, 'a')}) {
    EXPECT_THAT(ParseTarget(url).status(),
                StatusCodeIs(StatusCode::kInvalidArgument))
        << url;
  }
}

TEST(EventTypesTest, ValidatesNames) {
  EXPECT_EQ(EventTypes().size(), 9u);
  EXPECT_THAT(ValidateEventTypes({}), IsOk());
  EXPECT_THAT(ValidateEventTypes({"token.leaked", "token.expired"}), IsOk());
  EXPECT_THAT(ValidateEventTypes({"token.leak"}),
              StatusCodeIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateEventTypes({"token.expired", "token.expired"}),
              StatusCodeIs(StatusCode::kInvalidArgument));
}

TEST(PayloadTest, CarriesTheContractFieldsAndNoSecret) {
  DeliveryJob job;
  job.subscription_id = "whs_abc";
  job.event_id = 42;
  job.secret = "whsec_SECRET";
  job.event_type = "token.revoked";
  job.plan_id = "1234567890";
  job.token_id = "tok_x";
  job.event_time = kT;
  job.data_json = R"({"actor":"alice"})";
  const std::string body = PayloadJson(job);
  EXPECT_THAT(body, ::testing::Not(HasSubstr("SECRET")));
  const nlohmann::json j = nlohmann::json::parse(body);
  EXPECT_EQ(j["idempotency_key"], "whs_abc:42");
  EXPECT_EQ(j["event_id"], 42);
  EXPECT_EQ(j["type"], "token.revoked");
  EXPECT_EQ(j["plan_id"], "1234567890");
  EXPECT_EQ(j["token_id"], "tok_x");
  EXPECT_EQ(j["time"], "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(j["data"]["actor"], "alice");
}

TEST(BackoffTest, DoublesWithEqualJitterUpToTheCap) {
  const absl::Duration base = absl::Seconds(10), cap = absl::Seconds(100);
  EXPECT_EQ(RetryBackoff(1, base, cap, 0.0), absl::Seconds(5));
  EXPECT_EQ(RetryBackoff(1, base, cap, 1.0), absl::Seconds(10));
  EXPECT_EQ(RetryBackoff(2, base, cap, 0.0), absl::Seconds(10));
  EXPECT_EQ(RetryBackoff(3, base, cap, 1.0), absl::Seconds(40));
  EXPECT_EQ(RetryBackoff(5, base, cap, 1.0), absl::Seconds(100));
  EXPECT_EQ(RetryBackoff(1000, base, cap, 0.0), absl::Seconds(50));
  EXPECT_EQ(RetryBackoff(1000, base, cap, 1.0), absl::Seconds(100));
}

}  // namespace
}  // namespace pat::webhooks
