#include "server/rpc_observer.h"

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace pat {
namespace {

namespace gx = grpc::experimental;
using Clock = std::chrono::steady_clock;

// Identifiers are at most this long in the log (ids are short; anything
// longer is not an id we issued).
constexpr size_t kMaxIdLength = 128;

// pat.v1 methods whose handlers exchange grpc::ByteBuffer instead of the
// generated messages (WithRawCallbackMethod_*): their messages are bytes.
constexpr absl::string_view kRawMethods[] = {
    "/pat.v1.IntrospectionService/WatchGrants",
};

bool IsRawMethod(absl::string_view method) {
  for (absl::string_view raw : kRawMethods) {
    if (method == raw) return true;
  }
  return false;
}

// The string field `name` of `message`, or "" (absent, not a string).
std::string StringField(const google::protobuf::Message& message,
                        absl::string_view name) {
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::FieldDescriptor* f =
      d->FindFieldByName(std::string(name));
  if (f == nullptr || f->is_repeated() ||
      f->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
    return "";
  }
  std::string value = message.GetReflection()->GetString(message, f);
  if (value.size() > kMaxIdLength) value.resize(kMaxIdLength);
  return value;
}

const google::protobuf::Message* MessageField(
    const google::protobuf::Message& message, absl::string_view name) {
  const google::protobuf::FieldDescriptor* f =
      message.GetDescriptor()->FindFieldByName(std::string(name));
  if (f == nullptr || f->is_repeated() ||
      f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE ||
      !message.GetReflection()->HasField(message, f)) {
    return nullptr;
  }
  return &message.GetReflection()->GetMessage(message, f);
}

bool BoolField(const google::protobuf::Message& message,
               absl::string_view name) {
  const google::protobuf::FieldDescriptor* f =
      message.GetDescriptor()->FindFieldByName(std::string(name));
  return f != nullptr && !f->is_repeated() &&
         f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_BOOL &&
         message.GetReflection()->GetBool(message, f);
}

// The lifecycle action a successful TokenService method commits, or "".
absl::string_view LifecycleAction(const RpcName& name) {
  if (name.service != "pat.v1.TokenService") return "";
  if (name.method == "CreateToken") return "create";
  if (name.method == "UpdateToken") return "update";
  if (name.method == "RefreshToken") return "refresh";
  if (name.method == "RevokeToken") return "revoke";
  return "";
}

void StderrSink(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

// `value` as a JSON string (escaped; invalid UTF-8 replaced).
void AppendQuoted(std::string& out, absl::string_view value) {
  out += nlohmann::json(std::string(value))
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class RpcObserver final : public gx::Interceptor {
 public:
  RpcObserver(gx::ServerRpcInfo* info, AuthorityMetrics& metrics,
              const CallerAuth& auth, const AccessLogSink& sink)
      : info_(info),
        metrics_(metrics),
        auth_(auth),
        sink_(sink),
        series_(
            metrics.SeriesFor(info->method() != nullptr ? info->method() : "")),
        name_(series_.name()),
        // Only pat.v1 messages are generated protobuf classes whose fields
        // are read here; others (the default health service uses raw
        // ByteBuffers) are never inspected, nor are pat.v1 methods served
        // with raw bytes (kRawMethods).
        inspect_(absl::StartsWith(name_.service, "pat.v1.") &&
                 !IsRawMethod(info->method() != nullptr ? info->method() : "")),
        start_(Clock::now()) {}

  ~RpcObserver() override {
    // A call that ended without a status (the client went away first).
    if (!finished_) Finish(absl::StatusCode::kCancelled);
  }

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    using gx::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE)) {
      OnRequest(methods->GetRecvMessage());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      OnResponse(methods->GetSendMessage());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(
          static_cast<absl::StatusCode>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  void OnRequest(const void* raw) {
    if (!inspect_ || raw == nullptr || have_request_) return;
    have_request_ = true;  // the first message of a client stream only
    const auto& request = *static_cast<const google::protobuf::Message*>(raw);
    plan_id_ = StringField(request, "plan_id");
    token_id_ = StringField(request, "token_id");
    // DirectoryService requests carry the plan inside their object.
    if (plan_id_.empty()) {
      if (const google::protobuf::Message* plan = MessageField(request, "plan")) {
        plan_id_ = StringField(*plan, "id");
      } else if (const google::protobuf::Message* resource =
                     MessageField(request, "resource")) {
        plan_id_ = StringField(*resource, "plan_id");
      }
    }
  }

  void OnResponse(const void* raw) {
    if (!inspect_ || raw == nullptr || have_response_) return;
    have_response_ = true;  // the first message of a server stream only
    const auto& response = *static_cast<const google::protobuf::Message*>(raw);
    replayed_ = BoolField(response, "replayed");
    const google::protobuf::Message* token = MessageField(response, "token");
    if (token == nullptr && response.GetDescriptor()->name() == "Token") {
      token = &response;
    }
    if (token != nullptr) {
      if (token_id_.empty()) token_id_ = StringField(*token, "id");
      if (plan_id_.empty()) plan_id_ = StringField(*token, "plan_id");
    }
  }

  // The line is built from fixed names (service, method and code come from
  // the registered services and the 17 codes) and quoted values.
  void Finish(absl::StatusCode code) {
    finished_ = true;
    if (static_cast<int>(code) < 0 || static_cast<int>(code) > 16) {
      code = absl::StatusCode::kUnknown;  // not one of the 17 codes
    }
    const double seconds =
        std::chrono::duration<double>(Clock::now() - start_).count();
    series_.Record(code, seconds);
    const absl::string_view action = LifecycleAction(name_);
    if (code == absl::StatusCode::kOk && !action.empty() && !replayed_) {
      metrics_.RecordLifecycle(action);
    }
    std::string line = absl::StrCat(
        "{\"msg\":\"rpc\",\"service\":\"", name_.service, "\",\"method\":\"",
        name_.method, "\",\"code\":\"", absl::StatusCodeToString(code),
        "\",\"latency_ms\":",
        absl::StrFormat(
            "%.3f",
            static_cast<double>(static_cast<int64_t>(seconds * 1e6)) / 1e3));
    if (grpc::ServerContextBase* context = info_->server_context();
        context != nullptr) {
      line += ",\"caller\":";
      AppendQuoted(line, auth_.IdentityForLog(*context));
      const std::string actor = auth_.AssertedActorForLog(*context);
      if (!actor.empty()) {
        line += ",\"actor\":";
        AppendQuoted(line, actor);
      }
    }
    if (!plan_id_.empty()) {
      line += ",\"plan_id\":";
      AppendQuoted(line, plan_id_);
    }
    if (!token_id_.empty()) {
      line += ",\"token_id\":";
      AppendQuoted(line, token_id_);
    }
    if (replayed_) line += ",\"replayed\":true";
    line += '}';
    (sink_ ? sink_ : StderrSink)(line);
  }

  gx::ServerRpcInfo* const info_;
  AuthorityMetrics& metrics_;
  const CallerAuth& auth_;
  const AccessLogSink& sink_;
  RpcSeries& series_;
  const RpcName name_;
  const bool inspect_;
  const Clock::time_point start_;
  bool finished_ = false;
  bool have_request_ = false;
  bool have_response_ = false;
  bool replayed_ = false;
  std::string plan_id_;
  std::string token_id_;
};

}  // namespace

RpcObserverFactory::RpcObserverFactory(AuthorityMetrics& metrics,
                                       const CallerAuth& auth,
                                       AccessLogSink sink)
    : metrics_(metrics), auth_(auth), sink_(std::move(sink)) {}

gx::Interceptor* RpcObserverFactory::CreateServerInterceptor(
    gx::ServerRpcInfo* info) {
  return new RpcObserver(info, metrics_, auth_, sink_);
}

}  // namespace pat
