#include "server/pg_usage_store.h"

#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"

namespace pat::usage {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kNeedNames[] = {"none", "all", "listed"};

json RefJson(const ResourceRef& r) {
  return {{"k", std::string(ResourceKindName(r.kind))}, {"i", r.id}};
}

absl::StatusOr<ResourceRef> RefFromJson(const json& j) {
  if (!j.is_object() || !j.contains("k") || !j.contains("i") ||
      !j["k"].is_string() || !j["i"].is_string()) {
    return absl::InternalError("token_usage: malformed resource");
  }
  ResourceRef r{ResourceKindFromName(j["k"].get<std::string>()),
                j["i"].get<std::string>()};
  if (r.kind == ResourceKind::kUnspecified) {
    return absl::InternalError("token_usage: unknown resource kind");
  }
  return r;
}

json ResourcesJson(const std::vector<TouchedResource>& resources) {
  json out = json::array();
  for (const TouchedResource& t : resources) {
    json a = json::array();
    for (const ResourceRef& r : t.ancestors) a.push_back(RefJson(r));
    json entry = RefJson(t.resource);
    entry["a"] = std::move(a);
    out.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<std::vector<TouchedResource>> ResourcesFromJson(
    const json& j) {
  std::vector<TouchedResource> out;
  if (!j.is_array()) return absl::InternalError("token_usage: resources");
  for (const json& e : j) {
    TouchedResource t;
    PAT_ASSIGN_OR_RETURN(t.resource, RefFromJson(e));
    if (e.contains("a") && e["a"].is_array()) {
      for (const json& a : e["a"]) {
        PAT_ASSIGN_OR_RETURN(ResourceRef r, RefFromJson(a));
        t.ancestors.push_back(std::move(r));
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }

template <typename T, typename Body>
absl::StatusOr<T> Run(DbPool& pool, absl::string_view op, Body&& body) {
  PAT_ASSIGN_OR_RETURN(DbPool::Lease lease, pool.Acquire());
  try {
    pqxx::work txn(*lease);
    absl::StatusOr<T> result = body(txn);
    if (result.ok()) txn.commit();
    return result;
  } catch (const pqxx::broken_connection&) {
    lease.Discard();
    return absl::UnavailableError(absl::StrCat(op, ": database unavailable"));
  } catch (const pqxx::serialization_failure&) {
    return absl::AbortedError(absl::StrCat(op, ": conflict; retry"));
  } catch (const pqxx::deadlock_detected&) {
    return absl::AbortedError(absl::StrCat(op, ": conflict; retry"));
  } catch (const std::exception&) {
    lease.Discard();
    return absl::InternalError(absl::StrCat(op, ": storage error"));
  }
}

}  // namespace

absl::Time HourBucket(absl::Time t) {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t) / 3600 * 3600);
}

absl::Status PgUsageStore::Add(const std::vector<TokenUsageCount>& counts,
                               absl::Time now) {
  bool prune = false;
  {
    absl::MutexLock lock(&mu_);
    if (now - last_prune_ >= options_.prune_interval) {
      last_prune_ = now;
      prune = true;
    }
  }
  // One row per (token, key): ON CONFLICT may touch a row once a statement.
  std::map<std::pair<std::string, std::string>, json> rows;
  for (const TokenUsageCount& c : counts) {
    const std::string key = DigestHex(Sha256(CanonicalKey(c.count)));
    auto [it, inserted] = rows.try_emplace({c.token_id, key});
    if (!inserted) {
      it->second["c"] = it->second["c"].get<int64_t>() + c.count.count;
      continue;
    }
    it->second = {
        {"t", c.token_id},
        {"k", key},
        {"e", c.count.endpoint},
        {"s", c.count.satisfying_scopes},
        {"n", std::string(kNeedNames[static_cast<int>(c.count.need)])},
        {"r", ResourcesJson(c.count.resources)},
        {"c", c.count.count},
    };
  }
  json doc = json::array();
  for (auto& [key, row] : rows) doc.push_back(std::move(row));
  const std::string text = doc.dump();
  const int64_t bucket = Us(HourBucket(now));
  const int64_t cutoff = Us(now - options_.retention);
  return Run<bool>(
             pool_, "report usage counts",
             [&](pqxx::work& txn) -> absl::StatusOr<bool> {
               if (prune) {
                 txn.exec_params(
                     "DELETE FROM token_usage WHERE bucket_start < pat_ts($1)",
                     cutoff);
               }
               if (doc.empty()) return true;
               txn.exec_params(
                   "INSERT INTO token_usage (token_id, bucket_start, "
                   "usage_key, endpoint, scopes, resource_need, resources, "
                   "count) "
                   "SELECT u.t, pat_ts($2), decode(u.k, 'hex'), u.e, "
                   "u.s, u.n, u.r, "
                   "u.c "
                   "FROM jsonb_to_recordset($1::jsonb) AS u(t text, k text, "
                   "e text, s jsonb, n text, r jsonb, c bigint) "
                   "WHERE EXISTS (SELECT 1 FROM tokens WHERE id = u.t) AND ("
                   "EXISTS (SELECT 1 FROM token_usage x WHERE x.token_id = "
                   "u.t AND x.bucket_start = pat_ts($2) AND x.usage_key = "
                   "decode(u.k, 'hex')) OR "
                   "(SELECT count(*) FROM token_usage x WHERE x.token_id = "
                   "u.t AND x.bucket_start = pat_ts($2)) < $3) "
                   "ORDER BY u.t, u.k "
                   "ON CONFLICT (token_id, bucket_start, usage_key) DO UPDATE "
                   "SET count = token_usage.count + EXCLUDED.count",
                   text, bucket, options_.max_keys_per_bucket);
               return true;
             })
      .status();
}

absl::StatusOr<std::vector<UsageCount>> PgUsageStore::Read(
    const std::string& token_id, absl::Time since) {
  return Run<std::vector<UsageCount>>(
      pool_, "read usage",
      [&](pqxx::work& txn) -> absl::StatusOr<std::vector<UsageCount>> {
        const pqxx::result r = txn.exec_params(
            "SELECT min(endpoint), min(scopes::text), "
            "min(resource_need), min(resources::text), sum(count)::bigint "
            "FROM token_usage WHERE token_id = $1 AND bucket_start >= "
            "pat_ts($2) GROUP BY usage_key ORDER BY usage_key LIMIT $3",
            token_id, Us(since), options_.max_read_keys);
        std::vector<UsageCount> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          UsageCount c;
          c.endpoint = row[0].as<std::string>();
          const json scopes =
              json::parse(row[1].as<std::string>(), nullptr, false);
          if (!scopes.is_array()) {
            return absl::InternalError("token_usage: malformed scopes");
          }
          for (const json& s : scopes) {
            if (s.is_string()) c.satisfying_scopes.push_back(s);
          }
          const std::string need = row[2].as<std::string>();
          c.need = need == "all"      ? ResourceNeed::kAll
                   : need == "listed" ? ResourceNeed::kListed
                                      : ResourceNeed::kNone;
          const json resources =
              json::parse(row[3].as<std::string>(), nullptr, false);
          PAT_ASSIGN_OR_RETURN(c.resources, ResourcesFromJson(resources));
          c.count = row[4].as<int64_t>();
          out.push_back(std::move(c));
        }
        return out;
      });
}

}  // namespace pat::usage
