#include "server/feed/feed_format.h"

#include <exception>
#include <utility>

#include "common/secret.h"
#include "nlohmann/json.hpp"
#include "server/proto_convert.h"

namespace pat::feed {
namespace {

using json = nlohmann::json;

int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }

absl::Time MicrosToTime(const json& j) {
  return absl::FromUnixMicros(j.get<int64_t>());
}

json OptUs(const std::optional<absl::Time>& t) {
  return t.has_value() ? json(Us(*t)) : json(nullptr);
}

Resource ResourceFromPayload(const json& p) {
  Resource r;
  r.plan_id = p.at("plan_id").get<std::string>();
  r.kind = ResourceKindFromName(p.at("kind").get<std::string>());
  r.id = p.at("id").get<std::string>();
  r.parent_kind = ResourceKindFromName(p.value("parent_kind", ""));
  r.parent_id = p.value("parent_id", "");
  r.name = p.value("name", "");
  return r;
}

absl::Status DecodeGrant(const json& p, absl::Time now,
                         v1::GrantEvent& event) {
  GrantRecord g;
  Token& t = g.token;
  t.id = p.at("token_id").get<std::string>();
  t.plan_id = p.at("plan_id").get<std::string>();
  t.kind = TokenKindFromName(p.at("kind").get<std::string>());
  t.scopes = p.at("scopes").get<std::vector<std::string>>();
  t.all_resources = p.at("all_resources").get<bool>();
  for (const json& r : p.at("resources")) {
    t.resources.push_back({ResourceKindFromName(r.at("kind").get<std::string>()),
                           r.at("id").get<std::string>(),
                           r.at("link").get<std::string>()});
  }
  t.expire_time = MicrosToTime(p.at("expire_time_us"));
  if (auto it = p.find("revoke_time_us"); it != p.end() && !it->is_null()) {
    t.revoke_time = MicrosToTime(*it);
  }
  for (const json& s : p.at("secrets")) {
    absl::StatusOr<Digest> digest =
        DigestFromHex(s.at("sha256").get<std::string>());
    if (!digest.ok()) return absl::InvalidArgumentError("bad secret digest");
    SecretRecord secret{*digest, std::nullopt};
    if (auto it = s.find("valid_until_us"); it != s.end() && !it->is_null()) {
      secret.valid_until = MicrosToTime(*it);
    }
    g.secrets.push_back(secret);
  }
  GrantRecordToProto(g, now, &event);
  return absl::OkStatus();
}

// Throws (nlohmann) on a payload of the wrong shape.
absl::Status Decode(const FeedEventRow& row, absl::Time now,
                    v1::GrantEvent& event) {
  const json p = json::parse(row.payload_json);
  if (row.type == kTypeGrant) return DecodeGrant(p, now, event);
  if (row.type == kTypePlan) {
    Plan plan;
    plan.id = p.at("id").get<std::string>();
    plan.name = p.value("name", "");
    plan.tier = PlanTierFromName(p.at("tier").get<std::string>());
    PlanToProto(plan, event.mutable_plan_upserted());
    return absl::OkStatus();
  }
  if (row.type == kTypeResource) {
    ResourceToProto(ResourceFromPayload(p), event.mutable_resource_upserted());
    return absl::OkStatus();
  }
  if (row.type == kTypeResourceDelete) {
    ResourceToProto(ResourceFromPayload(p), event.mutable_resource_deleted());
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown event type");
}

}  // namespace

EncodedEvent EncodeGrant(const Token& token,
                         const std::vector<SecretDigestRow>& secrets) {
  json resources = json::array();
  for (const TokenResource& r : token.resources) {
    resources.push_back({{"kind", std::string(ResourceKindName(r.kind))},
                         {"id", r.id},
                         {"link", r.link}});
  }
  json secret_array = json::array();
  for (const SecretDigestRow& s : secrets) {
    secret_array.push_back(
        {{"sha256", s.sha256_hex}, {"valid_until_us", OptUs(s.valid_until)}});
  }
  const json payload = {
      {"token_id", token.id},
      {"plan_id", token.plan_id},
      {"kind", std::string(TokenKindName(token.kind))},
      {"scopes", token.scopes},
      {"all_resources", token.all_resources},
      {"resources", std::move(resources)},
      {"expire_time_us", Us(token.expire_time)},
      {"revoke_time_us", OptUs(token.revoke_time)},
      {"secrets", std::move(secret_array)},
  };
  return {kTypeGrant, token.id, payload.dump()};
}

EncodedEvent EncodePlan(const Plan& plan) {
  const json payload = {{"id", plan.id},
                        {"name", plan.name},
                        {"tier", std::string(PlanTierName(plan.tier))}};
  return {kTypePlan, plan.id, payload.dump()};
}

EncodedEvent EncodeResource(const Resource& r, bool deleted) {
  const std::string kind(ResourceKindName(r.kind));
  const json payload = {
      {"plan_id", r.plan_id},
      {"kind", kind},
      {"id", r.id},
      {"parent_kind", r.parent_kind == ResourceKind::kUnspecified
                          ? std::string()
                          : std::string(ResourceKindName(r.parent_kind))},
      {"parent_id", r.parent_id},
      {"name", r.name}};
  return {deleted ? kTypeResourceDelete : kTypeResource,
          kind + ":" + r.id, payload.dump()};
}

absl::Status DecodeEvent(const FeedEventRow& row, absl::Time now,
                         v1::GrantEvent& event) {
  try {
    return Decode(row, now, event);
  } catch (const std::exception&) {
    return absl::InvalidArgumentError("payload of the wrong shape");
  }
}

}  // namespace pat::feed
