#include "common/policy/request_resources.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "common/policy/path.h"
#include "nlohmann/json.hpp"

namespace pat::policy {
namespace {

using Json = nlohmann::json;
using Status = RequestResources::Status;

RequestResources Invalid(absl::string_view problem) {
  RequestResources r;
  r.status = Status::kInvalid;
  r.problem = problem;
  return r;
}

// "team" / "project" / "file" exactly; kUnspecified otherwise.
ResourceKind ContextKind(absl::string_view value) {
  if (value == "team") return ResourceKind::kTeam;
  if (value == "project") return ResourceKind::kProject;
  if (value == "file") return ResourceKind::kFile;
  return ResourceKind::kUnspecified;
}

// Adds (kind, id) unless already named. False when over the bound.
bool AddResource(ResourceKind kind, std::string id, RequestResources* out) {
  for (const NamedResource& r : out->resources) {
    if (r.kind == kind && r.id == id) return true;
  }
  if (out->resources.size() >= kMaxBodyResources) return false;
  out->resources.push_back(NamedResource{kind, std::move(id)});
  return true;
}

// ---- Query ----------------------------------------------------------------

enum class Param { kMissing, kFound, kDuplicate };

Param LookUp(absl::string_view query, absl::string_view name,
             std::string* value) {
  switch (FindQueryParam(query, name, value)) {
    case QueryParamLookup::kMissing:
      return Param::kMissing;
    case QueryParamLookup::kFound:
      return Param::kFound;
    case QueryParamLookup::kDuplicate:
      return Param::kDuplicate;
  }
  return Param::kDuplicate;
}

// Evaluates one alternative. *present is set when any of its parameters
// occurs.
RequestResources QueryRef(const ResourceRef& ref, absl::string_view query,
                          bool* present) {
  std::string value;
  const Param p = LookUp(query, ref.field.front().name, &value);
  std::string id;
  Param q = Param::kMissing;
  if (ref.form == RefForm::kContext) q = LookUp(query, ref.id_field, &id);
  *present = p != Param::kMissing || q != Param::kMissing;
  if (p == Param::kDuplicate || q == Param::kDuplicate) {
    return Invalid(
        "a query parameter naming the resource appears more "
        "than once");
  }
  RequestResources r;
  if (!*present) return r;
  if (p == Param::kMissing) {
    return Invalid("the query names a resource id without its kind");
  }
  if (value.empty()) return Invalid("the query names an empty resource");
  r.status = Status::kNamed;
  r.ref = &ref;
  switch (ref.form) {
    case RefForm::kFixed:
      AddResource(ref.kind, std::move(value), &r);
      break;
    case RefForm::kPlan:
      r.names_plan = true;
      r.plan_id = std::move(value);
      break;
    case RefForm::kContext: {
      const ResourceKind kind = ContextKind(value);
      if (kind == ResourceKind::kUnspecified) {
        return Invalid("the query's context is not team, project or file");
      }
      if (q == Param::kMissing || id.empty()) {
        return Invalid("the query names a context without its id");
      }
      AddResource(kind, std::move(id), &r);
      break;
    }
  }
  return r;
}

// ---- JSON body --------------------------------------------------------------

// Parses `body`, detecting duplicate member names at any level and nesting
// deeper than kMaxJsonDepth (values below that depth are discarded, so the
// document built stays shallow).
absl::string_view ParseStrict(absl::string_view body, Json* out) {
  struct Frame {
    bool object = false;
    absl::flat_hash_set<std::string> keys;
  };
  std::vector<Frame> stack;
  bool duplicate = false;
  bool too_deep = false;
  Json::parser_callback_t callback = [&](int /*depth*/,
                                         Json::parse_event_t event,
                                         Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        stack.push_back(Frame{event == Json::parse_event_t::object_start, {}});
        if (stack.size() > static_cast<size_t>(kMaxJsonDepth)) {
          too_deep = true;
          return false;
        }
        return true;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        return !too_deep;
      case Json::parse_event_t::key:
        if (!stack.empty() && stack.back().object &&
            !stack.back().keys.insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        return true;
      case Json::parse_event_t::value:
        return true;
    }
    return true;
  };
  *out = Json::parse(body.begin(), body.end(), callback,
                     /*allow_exceptions=*/false, /*ignore_comments=*/false);
  if (out->is_discarded()) {
    return too_deep ? "the request body nests deeper than allowed"
                    : "the request body is not valid JSON";
  }
  if (too_deep) return "the request body nests deeper than allowed";
  if (duplicate) return "the request body has a duplicate member name";
  if (!out->is_object()) return "the request body is not a JSON object";
  return {};
}

// Collects the objects reached by steps[0, n) from `root`, following `[]`
// arrays. Returns a problem or empty.
absl::string_view Walk(const Json& root, const std::vector<FieldStep>& steps,
                       size_t n, std::vector<const Json*>* objects) {
  std::vector<const Json*> current = {&root};
  for (size_t i = 0; i < n; ++i) {
    std::vector<const Json*> next;
    for (const Json* obj : current) {
      auto it = obj->find(steps[i].name);
      if (it == obj->end()) {
        return "the request body lacks a field naming the resource";
      }
      if (!steps[i].each) {
        if (!it->is_object()) {
          return "a field of the request body has the wrong type";
        }
        next.push_back(&*it);
        continue;
      }
      if (!it->is_array() || it->empty()) {
        return "a list in the request body naming resources is not a "
               "non-empty array";
      }
      for (const Json& element : *it) {
        if (!element.is_object()) {
          return "a list in the request body has an element that is not "
                 "an object";
        }
        next.push_back(&element);
      }
      if (next.size() > kMaxBodyResources) {
        return "the request body names too many resources";
      }
    }
    current = std::move(next);
  }
  *objects = std::move(current);
  return {};
}

// The non-empty string member `name` of `obj`, or a problem.
absl::string_view StringMember(const Json& obj, const std::string& name,
                               std::string* value) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    return "the request body lacks a field naming the resource";
  }
  if (!it->is_string())
    return "a resource id in the request body is not a string";
  *value = it->get<std::string>();
  if (value->empty()) return "a resource id in the request body is empty";
  return {};
}

RequestResources BodyRef(const ResourceRef& ref, const Json& root) {
  std::vector<const Json*> objects;
  absl::string_view problem =
      Walk(root, ref.field, ref.field.size() - 1, &objects);
  if (!problem.empty()) return Invalid(problem);
  RequestResources r;
  r.status = Status::kNamed;
  r.ref = &ref;
  const std::string& last = ref.field.back().name;
  for (const Json* obj : objects) {
    std::string value;
    problem = StringMember(*obj, last, &value);
    if (!problem.empty()) return Invalid(problem);
    ResourceKind kind = ref.kind;
    switch (ref.form) {
      case RefForm::kFixed:
        break;
      case RefForm::kPlan:
        if (r.names_plan && r.plan_id != value) {
          return Invalid("the request body names more than one plan");
        }
        r.names_plan = true;
        r.plan_id = std::move(value);
        continue;
      case RefForm::kContext:
        kind = ContextKind(value);
        if (kind == ResourceKind::kUnspecified) {
          return Invalid(
              "the request body's context is not team, project or file");
        }
        problem = StringMember(*obj, ref.id_field, &value);
        if (!problem.empty()) return Invalid(problem);
        break;
    }
    if (!AddResource(kind, std::move(value), &r)) {
      return Invalid("the request body names too many resources");
    }
  }
  return r;
}

// Whether any field of `ref` starts at the top level of `root`.
bool BodyRefPresent(const ResourceRef& ref, const Json& root) {
  if (root.contains(ref.field.front().name)) return true;
  return ref.form == RefForm::kContext && ref.field.size() == 1 &&
         root.contains(ref.id_field);
}

}  // namespace

RequestResources FromQuery(const ResourceSelector& selector,
                           absl::string_view query) {
  RequestResources found;
  int present_count = 0;
  for (const ResourceRef& ref : selector.refs) {
    bool present = false;
    RequestResources r = QueryRef(ref, query, &present);
    if (r.status == Status::kInvalid) return r;
    if (!present) continue;
    if (++present_count > 1) {
      return Invalid("the query names its resource in more than one way");
    }
    found = std::move(r);
  }
  return found;
}

RequestResources FromJsonBody(const ResourceSelector& selector,
                              absl::string_view body) {
  Json root;
  const absl::string_view problem = ParseStrict(body, &root);
  if (!problem.empty()) return Invalid(problem);
  const ResourceRef* present = nullptr;
  for (const ResourceRef& ref : selector.refs) {
    if (!BodyRefPresent(ref, root)) continue;
    if (present != nullptr) {
      return Invalid(
          "the request body names its resource in more than one "
          "way");
    }
    present = &ref;
  }
  if (present == nullptr) {
    return Invalid("the request body names no resource");
  }
  return BodyRef(*present, root);
}

}  // namespace pat::policy
