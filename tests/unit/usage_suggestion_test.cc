// The least-privilege suggestion (server/usage_report.h): exact minimum
// scope cover with alternative scopes, least-privilege resource cover
// collapsed to the token's entries, and no traffic -> nothing suggested.
#include "server/usage_report.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::usage {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ResourceRef File(const std::string& id) { return {ResourceKind::kFile, id}; }
ResourceRef Project(const std::string& id) {
  return {ResourceKind::kProject, id};
}
ResourceRef Team(const std::string& id) { return {ResourceKind::kTeam, id}; }

TokenResource Entry(const ResourceRef& r) { return {r.kind, r.id, "link"}; }

// A file in project P under team T.
TouchedResource FileIn(const std::string& file, const std::string& project,
                       const std::string& team) {
  return {File(file), {Project(project), Team(team)}};
}

// Every subset of `universe` smaller than `cover` misses some list: brute
// force over all subsets (the class, not one example).
bool NoSmallerCover(const std::vector<std::vector<std::string>>& lists,
                    const std::vector<std::string>& universe, size_t size) {
  const size_t n = universe.size();
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (static_cast<size_t>(__builtin_popcount(mask)) >= size) continue;
    bool all = true;
    for (const auto& list : lists) {
      bool hit = false;
      for (size_t i = 0; i < n; ++i) {
        if ((mask >> i & 1) != 0 &&
            std::find(list.begin(), list.end(), universe[i]) != list.end()) {
          hit = true;
        }
      }
      if (!hit) all = false;
    }
    if (all) return false;
  }
  return true;
}

bool Hits(const std::vector<std::vector<std::string>>& lists,
          const std::vector<std::string>& cover) {
  for (const auto& list : lists) {
    bool hit = false;
    for (const auto& s : cover) {
      hit = hit || std::find(list.begin(), list.end(), s) != list.end();
    }
    if (!hit) return false;
  }
  return true;
}

TEST(MinimumScopeCoverTest, AlternativesShareOneScope) {
  // Greedy-by-list would take a and c; {b} alone covers both.
  EXPECT_THAT(MinimumScopeCover({{"a", "b"}, {"b", "c"}}), ElementsAre("b"));
}

TEST(MinimumScopeCoverTest, SingletonsAreForced) {
  EXPECT_THAT(MinimumScopeCover({{"files:read"},
                                 {"files:read", "file_content:read"},
                                 {"webhooks:write"}}),
              ElementsAre("files:read", "webhooks:write"));
}

TEST(MinimumScopeCoverTest, ExactWhereGreedyIsNot) {
  // Greedy picks x (hits 3 lists) and then needs 2 more; {p, q} suffices.
  const std::vector<std::vector<std::string>> lists = {
      {"p", "x"}, {"p", "x"}, {"q", "x"}, {"p"}, {"q"}};
  EXPECT_THAT(MinimumScopeCover(lists), ElementsAre("p", "q"));
}

TEST(MinimumScopeCoverTest, TiesTakeTheSmallestSortedList) {
  EXPECT_THAT(MinimumScopeCover({{"d", "b"}, {"c", "b", "a"}}),
              ElementsAre("b"));
  EXPECT_THAT(MinimumScopeCover({{"z", "y"}}), ElementsAre("y"));
}

TEST(MinimumScopeCoverTest, EveryFamilyOverFiveScopesIsMinimum) {
  // All families of up to 3 lists over {a..e} drawn from a fixed set of
  // lists: the cover hits every list and no smaller set does.
  const std::vector<std::string> universe = {"a", "b", "c", "d", "e"};
  std::vector<std::vector<std::string>> pool;
  for (uint32_t mask = 1; mask < 32; ++mask) {
    std::vector<std::string> list;
    for (int i = 0; i < 5; ++i) {
      if ((mask >> i & 1) != 0) list.push_back(universe[i]);
    }
    pool.push_back(list);
  }
  for (size_t i = 0; i < pool.size(); ++i) {
    for (size_t j = i; j < pool.size(); ++j) {
      for (size_t k = j; k < pool.size(); k += 3) {
        const std::vector<std::vector<std::string>> lists = {pool[i], pool[j],
                                                             pool[k]};
        const std::vector<std::string> cover = MinimumScopeCover(lists);
        ASSERT_TRUE(Hits(lists, cover));
        ASSERT_TRUE(NoSmallerCover(lists, universe, cover.size()));
      }
    }
  }
}

TEST(MinimumScopeCoverTest, NoListsNoScopes) {
  EXPECT_THAT(MinimumScopeCover({}), IsEmpty());
}

TEST(LeastResourceCoverTest, CollapsesToTheTokensCoveringEntries) {
  // The token lists team T and project P (in T); files of P are covered by
  // P (the lowest entry), a file of project Q (in T) only by T.
  const std::vector<TokenResource> allowed = {Entry(Team("T")),
                                              Entry(Project("P")),
                                              Entry(File("unused"))};
  EXPECT_THAT(LeastResourceCover({FileIn("f1", "P", "T"),
                                  FileIn("f2", "P", "T")},
                                 false, allowed),
              ElementsAre(Project("P")));
  EXPECT_THAT(LeastResourceCover({FileIn("f1", "P", "T"),
                                  FileIn("g", "Q", "T")},
                                 false, allowed),
              ElementsAre(Team("T")));  // P is under T: T alone covers both
}

TEST(LeastResourceCoverTest, ListedFileWinsOverItsProject) {
  const std::vector<TokenResource> allowed = {Entry(Project("P")),
                                              Entry(File("f1"))};
  EXPECT_THAT(LeastResourceCover({FileIn("f1", "P", "T")}, false, allowed),
              ElementsAre(File("f1")));
}

TEST(LeastResourceCoverTest, AllResourcesTokenListsWhatWasTouched) {
  EXPECT_THAT(LeastResourceCover({FileIn("f1", "P", "T"),
                                  FileIn("f2", "P", "T")},
                                 true, {}),
              ElementsAre(File("f1"), File("f2")));
  // A touched project covers its touched files.
  EXPECT_THAT(LeastResourceCover({FileIn("f1", "P", "T"),
                                  {Project("P"), {Team("T")}}},
                                 true, {}),
              ElementsAre(Project("P")));
}

TEST(LeastResourceCoverTest, UncoveredResourceStandsForItself) {
  EXPECT_THAT(LeastResourceCover({FileIn("f1", "P", "T")}, false,
                                 {Entry(Project("other"))}),
              ElementsAre(File("f1")));
}

UsageCount Count(std::string endpoint, std::vector<std::string> scopes,
                 ResourceNeed need, std::vector<TouchedResource> resources,
                 int64_t n) {
  UsageCount c{std::move(endpoint), std::move(scopes), need,
               std::move(resources), n};
  Canonicalize(c);
  return c;
}

TEST(BuildReportTest, NoTrafficSuggestsNothing) {
  Token token;
  token.scopes = {"files:read", "webhooks:write"};
  token.resources = {Entry(Project("P"))};
  const Report report = BuildReport(token, {});
  EXPECT_EQ(report.total_requests, 0);
  EXPECT_TRUE(report.suggestion.no_traffic);
  EXPECT_THAT(report.suggestion.scopes, IsEmpty());
  EXPECT_THAT(report.suggestion.resources, IsEmpty());
  EXPECT_FALSE(report.suggestion.all_resources);
  EXPECT_THAT(report.unused_allowed, ElementsAre(Project("P")));
  ASSERT_EQ(report.scopes.size(), 2u);
  EXPECT_TRUE(report.scopes[0].held);
  EXPECT_EQ(report.scopes[0].count, 0);
}

TEST(BuildReportTest, SumsBucketsAndRanksEndpoints) {
  Token token;
  token.scopes = {"a", "b", "c"};
  token.resources = {Entry(Project("P")), Entry(Project("Q"))};
  const std::vector<UsageCount> counts = {
      Count("getFile", {"a", "b"}, ResourceNeed::kListed,
            {FileIn("f1", "P", "T")}, 2),
      Count("getFile", {"a", "b"}, ResourceNeed::kListed,
            {FileIn("f1", "P", "T")}, 3),  // another hour
      Count("getMe", {"b", "c"}, ResourceNeed::kNone, {}, 1),
  };
  const Report report = BuildReport(token, counts);
  EXPECT_EQ(report.total_requests, 6);
  ASSERT_EQ(report.endpoints.size(), 2u);
  EXPECT_EQ(report.endpoints[0].endpoint, "getFile");
  EXPECT_EQ(report.endpoints[0].count, 5);
  EXPECT_THAT(report.suggestion.scopes, ElementsAre("b"));
  EXPECT_THAT(report.suggestion.resources, ElementsAre(Project("P")));
  EXPECT_FALSE(report.suggestion.all_resources);
  EXPECT_THAT(report.unused_allowed, ElementsAre(Project("Q")));
  ASSERT_EQ(report.touched.size(), 1u);
  EXPECT_EQ(report.touched[0].count, 5);
}

TEST(BuildReportTest, AnAllResourcesRequestKeepsAllResources) {
  Token token;
  token.scopes = {"a"};
  token.all_resources = true;
  const Report report = BuildReport(
      token, {Count("listProjects", {"a"}, ResourceNeed::kAll, {}, 1),
              Count("getFile", {"a"}, ResourceNeed::kListed,
                    {FileIn("f1", "P", "T")}, 1)});
  EXPECT_TRUE(report.suggestion.all_resources);
  EXPECT_THAT(report.suggestion.resources, IsEmpty());
  EXPECT_EQ(report.all_resources_requests, 1);
}

TEST(CanonicalKeyTest, OrderOfListsDoesNotMatter) {
  const UsageCount a = Count("e", {"b", "a"}, ResourceNeed::kListed,
                             {FileIn("f2", "P", "T"), FileIn("f1", "P", "T")},
                             1);
  const UsageCount b = Count("e", {"a", "b"}, ResourceNeed::kListed,
                             {FileIn("f1", "P", "T"), FileIn("f2", "P", "T")},
                             9);
  EXPECT_EQ(CanonicalKey(a), CanonicalKey(b));
  EXPECT_NE(CanonicalKey(a),
            CanonicalKey(Count("e", {"a"}, ResourceNeed::kListed,
                               {FileIn("f1", "P", "T")}, 1)));
}

}  // namespace
}  // namespace pat::usage
