#include "server/usage_report.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/domain.h"

namespace pat::usage {
namespace {

std::string RefText(const ResourceRef& r) {
  return absl::StrCat(ResourceKindName(r.kind), ":", r.id);
}

using Bits = uint32_t;

// Removes duplicate lists and every list that contains another one (hitting
// the smaller list hits the larger).
std::vector<std::set<std::string>> Reduce(
    const std::vector<std::vector<std::string>>& alternatives) {
  std::set<std::set<std::string>> unique;
  for (const auto& list : alternatives) {
    if (!list.empty()) unique.emplace(list.begin(), list.end());
  }
  std::vector<std::set<std::string>> sets(unique.begin(), unique.end());
  std::vector<std::set<std::string>> out;
  for (size_t i = 0; i < sets.size(); ++i) {
    bool redundant = false;
    for (size_t j = 0; j < sets.size() && !redundant; ++j) {
      if (i == j || sets[j].size() >= sets[i].size()) continue;
      redundant = std::includes(sets[i].begin(), sets[i].end(),
                                sets[j].begin(), sets[j].end());
    }
    if (!redundant) out.push_back(sets[i]);
  }
  return out;
}

// Visits the k-subsets of [0, n) in lexicographic order; true when `hits`
// accepted one (left in `chosen`).
bool FirstHittingSubset(int n, int k, const std::vector<Bits>& masks,
                        std::vector<int>& chosen) {
  chosen.resize(k);
  for (int i = 0; i < k; ++i) chosen[i] = i;
  while (true) {
    Bits pick = 0;
    for (int i : chosen) pick |= Bits{1} << i;
    bool all = true;
    for (Bits m : masks) {
      if ((m & pick) == 0) {
        all = false;
        break;
      }
    }
    if (all) return true;
    int i = k - 1;
    while (i >= 0 && chosen[i] == n - k + i) --i;
    if (i < 0) return false;
    ++chosen[i];
    for (int j = i + 1; j < k; ++j) chosen[j] = chosen[j - 1] + 1;
  }
}

std::vector<std::string> GreedyCover(std::vector<std::set<std::string>> sets) {
  std::set<std::string> out;
  while (!sets.empty()) {
    std::map<std::string, int> hits;
    for (const auto& s : sets) {
      for (const auto& scope : s) ++hits[scope];
    }
    auto best = hits.begin();
    for (auto it = hits.begin(); it != hits.end(); ++it) {
      if (it->second > best->second) best = it;
    }
    const std::string pick = best->first;
    out.insert(pick);
    std::erase_if(sets, [&](const auto& s) { return s.contains(pick); });
  }
  return {out.begin(), out.end()};
}

}  // namespace

void Canonicalize(UsageCount& count) {
  std::sort(count.satisfying_scopes.begin(), count.satisfying_scopes.end());
  count.satisfying_scopes.erase(
      std::unique(count.satisfying_scopes.begin(),
                  count.satisfying_scopes.end()),
      count.satisfying_scopes.end());
  if (count.need != ResourceNeed::kListed) count.resources.clear();
  std::sort(count.resources.begin(), count.resources.end());
  count.resources.erase(
      std::unique(count.resources.begin(), count.resources.end()),
      count.resources.end());
}

std::string CanonicalKey(const UsageCount& count) {
  std::string key = absl::StrCat(count.endpoint, "\n",
                                 absl::StrJoin(count.satisfying_scopes, " "),
                                 "\n", static_cast<int>(count.need));
  for (const TouchedResource& t : count.resources) {
    absl::StrAppend(&key, "\n", RefText(t.resource));
    for (const ResourceRef& a : t.ancestors) {
      absl::StrAppend(&key, "<", RefText(a));
    }
  }
  return key;
}

std::vector<std::string> MinimumScopeCover(
    const std::vector<std::vector<std::string>>& alternatives) {
  const std::vector<std::set<std::string>> sets = Reduce(alternatives);
  std::set<std::string> universe_set;
  for (const auto& s : sets) universe_set.insert(s.begin(), s.end());
  const std::vector<std::string> universe(universe_set.begin(),
                                          universe_set.end());
  const int n = static_cast<int>(universe.size());
  if (n > kMaxExactScopes) return GreedyCover(sets);
  std::vector<Bits> masks;
  for (const auto& s : sets) {
    Bits m = 0;
    for (int i = 0; i < n; ++i) {
      if (s.contains(universe[i])) m |= Bits{1} << i;
    }
    masks.push_back(m);
  }
  std::vector<int> chosen;
  for (int k = 0; k <= n; ++k) {
    if (!FirstHittingSubset(n, k, masks, chosen)) continue;
    std::vector<std::string> out;
    for (int i : chosen) out.push_back(universe[i]);
    return out;
  }
  return {};  // unreachable: the whole universe hits every set
}

std::vector<ResourceRef> LeastResourceCover(
    const std::vector<TouchedResource>& touched, bool all_resources,
    const std::vector<TokenResource>& allowed) {
  std::set<ResourceRef> candidates;
  for (const TokenResource& r : allowed) candidates.insert({r.kind, r.id});
  auto is_candidate = [&](const ResourceRef& r) {
    return all_resources || candidates.contains(r);
  };
  // Each chosen entry with the ancestors it is known to have.
  std::map<ResourceRef, std::set<ResourceRef>> chosen;
  for (const TouchedResource& t : touched) {
    size_t lowest = 0;  // 0: the resource; i > 0: ancestors[i - 1]
    bool found = is_candidate(t.resource);
    for (size_t i = 0; !found && i < t.ancestors.size(); ++i) {
      if (is_candidate(t.ancestors[i])) {
        lowest = i + 1;
        found = true;
      }
    }
    if (!found) lowest = 0;
    const ResourceRef& pick =
        lowest == 0 ? t.resource : t.ancestors[lowest - 1];
    std::set<ResourceRef>& above = chosen[pick];
    for (size_t i = lowest; i < t.ancestors.size(); ++i) {
      above.insert(t.ancestors[i]);
    }
  }
  std::vector<ResourceRef> out;
  for (const auto& [entry, above] : chosen) {
    bool under_another = false;
    for (const ResourceRef& a : above) {
      if (chosen.contains(a)) {
        under_another = true;
        break;
      }
    }
    if (!under_another) out.push_back(entry);
  }
  return out;  // std::map order: (kind, id)
}

Report BuildReport(const Token& token, const std::vector<UsageCount>& counts) {
  Report report;
  std::map<std::string, EndpointUsage> endpoints;
  std::map<std::string, ScopeUsage> scopes;
  std::map<ResourceRef, int64_t> touched_counts;
  std::set<TouchedResource> touched;
  std::vector<std::vector<std::string>> alternatives;
  for (const std::string& s : token.scopes) scopes[s] = {s, true, 0};
  for (const UsageCount& c : counts) {
    if (c.count <= 0) continue;
    report.total_requests += c.count;
    EndpointUsage& e = endpoints[c.endpoint];
    e.endpoint = c.endpoint;
    e.count += c.count;
    for (const std::string& s : c.satisfying_scopes) {
      if (std::find(e.satisfying_scopes.begin(), e.satisfying_scopes.end(),
                    s) == e.satisfying_scopes.end()) {
        e.satisfying_scopes.push_back(s);
      }
      ScopeUsage& u = scopes[s];
      u.scope = s;
      u.count += c.count;
    }
    alternatives.push_back(c.satisfying_scopes);
    switch (c.need) {
      case ResourceNeed::kAll:
        report.all_resources_requests += c.count;
        break;
      case ResourceNeed::kListed:
        for (const TouchedResource& t : c.resources) {
          touched_counts[t.resource] += c.count;
          touched.insert(t);
        }
        break;
      case ResourceNeed::kNone:
        break;
    }
  }
  for (auto& [name, e] : endpoints) {
    std::sort(e.satisfying_scopes.begin(), e.satisfying_scopes.end());
    report.endpoints.push_back(std::move(e));
  }
  std::stable_sort(report.endpoints.begin(), report.endpoints.end(),
                   [](const EndpointUsage& a, const EndpointUsage& b) {
                     return a.count > b.count;
                   });
  for (auto& [name, s] : scopes) report.scopes.push_back(std::move(s));
  for (const auto& [ref, n] : touched_counts) report.touched.push_back({ref, n});
  std::stable_sort(report.touched.begin(), report.touched.end(),
                   [](const ResourceUsage& a, const ResourceUsage& b) {
                     return a.count > b.count;
                   });
  const std::vector<TouchedResource> touched_list(touched.begin(),
                                                  touched.end());
  if (!token.all_resources) {
    for (const TokenResource& r : token.resources) {
      const ResourceRef ref{r.kind, r.id};
      bool covers = false;
      for (const TouchedResource& t : touched_list) {
        covers = t.resource == ref ||
                 std::find(t.ancestors.begin(), t.ancestors.end(), ref) !=
                     t.ancestors.end();
        if (covers) break;
      }
      if (!covers) report.unused_allowed.push_back(ref);
    }
  }
  Suggestion& s = report.suggestion;
  s.no_traffic = report.total_requests == 0;
  if (s.no_traffic) return report;
  s.scopes = MinimumScopeCover(alternatives);
  if (report.all_resources_requests > 0) {
    s.all_resources = true;
  } else {
    s.resources = LeastResourceCover(touched_list, token.all_resources,
                                     token.resources);
  }
  return report;
}

}  // namespace pat::usage
