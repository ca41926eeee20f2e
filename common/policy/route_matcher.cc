#include "common/policy/route_matcher.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"

namespace pat::policy {

absl::string_view RouteMatch::Param(absl::string_view name) const {
  if (endpoint == nullptr) return {};
  for (int i = 0; i < param_count; ++i) {
    if (endpoint->param_names[i] == name) return params[i];
  }
  return {};
}

uint32_t RouteMatcher::NewNode() {
  nodes_.emplace_back();
  return static_cast<uint32_t>(nodes_.size() - 1);
}

absl::StatusOr<RouteMatcher> RouteMatcher::Create(Catalog catalog) {
  RouteMatcher m;
  m.endpoints_ = std::move(catalog.endpoints);
  m.NewNode();  // root
  for (uint32_t i = 0; i < m.endpoints_.size(); ++i) {
    const Endpoint& e = m.endpoints_[i];
    if (e.param_names.size() > static_cast<size_t>(kMaxPathParams)) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", e.line, ": too many path parameters"));
    }
    uint32_t node = 0;
    for (const TemplateSegment& s : e.segments) {
      uint32_t next = kNoNode;
      switch (s.type) {
        case SegmentType::kLiteral: {
          auto it = m.nodes_[node].literals.find(s.text);
          if (it != m.nodes_[node].literals.end()) {
            next = it->second;
          } else {
            next = m.NewNode();
            m.nodes_[node].literals.emplace(s.text, next);
          }
          break;
        }
        case SegmentType::kParam:
          if (m.nodes_[node].param == kNoNode) {
            next = m.NewNode();
            m.nodes_[node].param = next;
          } else {
            next = m.nodes_[node].param;
          }
          break;
        case SegmentType::kPrefixedParam: {
          for (const PrefixedChild& c : m.nodes_[node].prefixed) {
            if (c.prefix == s.text) next = c.node;
          }
          if (next == kNoNode) {
            next = m.NewNode();
            std::vector<PrefixedChild>& children = m.nodes_[node].prefixed;
            children.push_back(PrefixedChild{s.text, next});
            std::stable_sort(
                children.begin(), children.end(),
                [](const PrefixedChild& a, const PrefixedChild& b) {
                  return a.prefix.size() > b.prefix.size();
                });
          }
          break;
        }
      }
      node = next;
    }
    for (const MethodRoute& r : m.nodes_[node].methods) {
      if (r.method == e.method) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", e.line, ": ", e.method, " ", e.path_template,
                         " matches the same requests as line ",
                         m.endpoints_[r.endpoint].line));
      }
    }
    m.nodes_[node].methods.push_back(MethodRoute{e.method, i});
  }
  return m;
}

absl::StatusOr<RouteMatcher> RouteMatcher::FromText(absl::string_view text,
                                                    absl::string_view source) {
  absl::StatusOr<Catalog> catalog = ParseCatalog(text, source);
  if (!catalog.ok()) return catalog.status();
  return Create(*std::move(catalog));
}

absl::StatusOr<RouteMatcher> RouteMatcher::Default(TokenKind kind) {
  const absl::string_view text = DefaultCatalogText(kind);
  if (text.empty()) {
    return absl::InvalidArgumentError("no built-in catalog for this kind");
  }
  return FromText(text,
                  kind == TokenKind::kRestApi ? "builtin:rest" : "builtin:npm");
}

RouteMatch RouteMatcher::Match(absl::string_view method,
                               absl::string_view path) const {
  RouteMatch match;
  if (path.empty() || path[0] != '/') return match;
  uint32_t node = 0;
  if (path.size() > 1) {
    size_t start = 1;
    while (true) {
      size_t end = path.find('/', start);
      if (end == absl::string_view::npos) end = path.size();
      const absl::string_view segment = path.substr(start, end - start);
      if (segment.empty()) return RouteMatch();
      const Node& n = nodes_[node];
      uint32_t next = kNoNode;
      if (auto it = n.literals.find(segment); it != n.literals.end()) {
        next = it->second;
      } else {
        bool prefixed = false;
        for (const PrefixedChild& c : n.prefixed) {
          if (absl::StartsWith(segment, c.prefix)) {
            prefixed = true;
            if (segment.size() > c.prefix.size()) next = c.node;
            break;
          }
        }
        if (!prefixed) next = n.param;
        if (next != kNoNode) {
          if (match.param_count >= kMaxPathParams) return RouteMatch();
          match.params[match.param_count++] = segment;
        }
      }
      if (next == kNoNode) return RouteMatch();
      node = next;
      if (end == path.size()) break;
      start = end + 1;
    }
  }
  for (const MethodRoute& r : nodes_[node].methods) {
    if (r.method == method) {
      match.endpoint = &endpoints_[r.endpoint];
      return match;
    }
  }
  const bool any = !nodes_[node].methods.empty();
  match = RouteMatch();
  match.path_matched = any;
  return match;
}

const Endpoint* RouteMatcher::FindByName(absl::string_view name) const {
  for (const Endpoint& e : endpoints_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace pat::policy
