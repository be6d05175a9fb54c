// Node binding of the CUDA backend (mixed_reward_cuda.node): the CudaAddon of
// lib/backend/addonTypes.ts. Converts JS values to pointers and sizes, re-validates every job on
// the host before the device sees it, and throws the package's typed errors handed over by init().
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../binding/napi_args.h"
#include "cuda_core.h"

namespace {

using mrcuda::Result;
using mrcuda::Status;
using mrnapi::ErrKind;

struct AddonData {
  mrnapi::ErrorClasses errors;
  Napi::FunctionReference tableCtor;
};

std::atomic<float> gLastKernelMs{0.0f};

AddonData& data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

ErrKind kindOf(Status s) {
  switch (s) {
    case Status::InvalidArgument: return ErrKind::InvalidArgument;
    case Status::TokenRange: return ErrKind::TokenRange;
    case Status::ValueRange: return ErrKind::ValueRange;
    case Status::BadBoxes: return ErrKind::Box;
    default: return ErrKind::Native;
  }
}

Napi::Value makeError(Napi::Env env, Status s, const std::string& msg) { return mrnapi::make_error(env, kindOf(s), msg); }

[[noreturn]] void fail(Napi::Env env, Status s, const std::string& msg) { mrnapi::fail(env, kindOf(s), msg); }

void check(Napi::Env env, const Result& r) {
  if (!r.ok()) fail(env, r.status, r.message);
}

// ---- table -----------------------------------------------------------------------------------

class TableWrap : public Napi::ObjectWrap<TableWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaTable",
                       {InstanceAccessor<&TableWrap::VocabSize>("vocabSize"), InstanceAccessor<&TableWrap::Dim>("dim"),
                        InstanceMethod<&TableWrap::Dispose>("dispose")});
  }
  explicit TableWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TableWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsExternal()) fail(env, Status::InvalidArgument, "CudaTable is created by createTable()");
    mrcuda::DeviceTable* raw = info[0].As<Napi::External<mrcuda::DeviceTable>>().Data();
    table_ = std::shared_ptr<mrcuda::DeviceTable>(raw, mrcuda::tableDestroy);
    vocab_ = mrcuda::tableVocab(raw);
    dim_ = mrcuda::tableDim(raw);
  }

  // Shared with workers in flight, so a dispose() during a batch never frees the handle under it.
  std::shared_ptr<mrcuda::DeviceTable> table(Napi::Env env) {
    if (disposed_) fail(env, Status::Native, "the CUDA embedding table was disposed");
    return table_;
  }
  int vocab() const { return vocab_; }

 private:
  Napi::Value VocabSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), vocab_); }
  Napi::Value Dim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), dim_); }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (!disposed_) mrcuda::tableDispose(table_.get());  // waits for a batch in flight
    disposed_ = true;
    return info.Env().Undefined();
  }
  std::shared_ptr<mrcuda::DeviceTable> table_;
  bool disposed_ = false;
  int vocab_ = 0, dim_ = 0;
};

TableWrap* unwrapTable(Napi::Env env, const Napi::Value& v) {
  AddonData& d = data(env);
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(d.tableCtor.Value())) {
    fail(env, Status::InvalidArgument, "table must be a table created by this addon's createTable()");
  }
  return TableWrap::Unwrap(v.As<Napi::Object>());
}

// ---- argument helpers ------------------------------------------------------------------------

template <typename T, napi_typedarray_type Kind>
Napi::TypedArrayOf<T> typedArray(Napi::Env env, const Napi::Value& v, const std::string& what) {
  return mrnapi::typed_arg(env, v, Kind, what).As<Napi::TypedArrayOf<T>>();
}

Napi::Int32Array int32Field(Napi::Env env, const Napi::Object& job, const char* key) {
  return typedArray<int32_t, napi_int32_array>(env, job.Get(key), std::string("job.") + key);
}

int flagField(Napi::Env env, const Napi::Object& job, const char* key) {
  Napi::Value v = job.Get(key);
  if (!v.IsNumber()) fail(env, Status::InvalidArgument, std::string("job.") + key + " must be 0 or 1");
  const double x = v.As<Napi::Number>().DoubleValue();
  if (x != 0 && x != 1) fail(env, Status::InvalidArgument, std::string("job.") + key + " must be 0 or 1");
  return static_cast<int>(x);
}

// A BmasJob read into plain pointers; the references keep the arrays alive while a worker runs.
struct JobView {
  mrcuda::BmasInput in{};
  float* out = nullptr;
  std::vector<Napi::Reference<Napi::Value>> keep;
};

void readJob(Napi::Env env, const Napi::Value& jobValue, int vocab, JobView& jv, bool keepAlive) {
  if (!jobValue.IsObject()) fail(env, Status::InvalidArgument, "job must be an object (BmasJob)");
  Napi::Object job = jobValue.As<Napi::Object>();
  auto respIds = int32Field(env, job, "respIds");
  auto respOffsets = int32Field(env, job, "respOffsets");
  auto refIds = int32Field(env, job, "refIds");
  auto refOffsets = int32Field(env, job, "refOffsets");
  auto pairRef = int32Field(env, job, "pairRef");
  Napi::Value w = job.Get("weights");
  const float* weights = nullptr;
  size_t weightsLen = 0;
  if (!w.IsNull() && !w.IsUndefined()) {
    auto wa = typedArray<float, napi_float32_array>(env, w, "job.weights");
    weights = wa.Data();
    weightsLen = wa.ElementLength();
    if (keepAlive) jv.keep.push_back(Napi::Persistent(w));
  }
  auto out = typedArray<float, napi_float32_array>(env, job.Get("out"), "job.out");
  jv.in.respIds = respIds.Data(); jv.in.respIdsLen = respIds.ElementLength();
  jv.in.respOffsets = respOffsets.Data(); jv.in.respOffsetsLen = respOffsets.ElementLength();
  jv.in.refIds = refIds.Data(); jv.in.refIdsLen = refIds.ElementLength();
  jv.in.refOffsets = refOffsets.Data(); jv.in.refOffsetsLen = refOffsets.ElementLength();
  jv.in.pairRef = pairRef.Data(); jv.in.pairRefLen = pairRef.ElementLength();
  jv.in.weights = weights; jv.in.weightsLen = weightsLen;
  jv.in.combine = flagField(env, job, "combine");
  jv.in.precision = flagField(env, job, "precision");
  jv.in.outLen = out.ElementLength();
  jv.out = out.Data();
  check(env, mrcuda::validateBmas(jv.in, vocab));
  if (keepAlive) {
    for (Napi::Value v : {Napi::Value(respIds), Napi::Value(respOffsets), Napi::Value(refIds), Napi::Value(refOffsets), Napi::Value(pairRef), Napi::Value(out)}) {
      jv.keep.push_back(Napi::Persistent(v));
    }
  }
}

// ---- BMAS ------------------------------------------------------------------------------------

class BmasWorker : public Napi::AsyncWorker {
 public:
  BmasWorker(Napi::Env env, std::shared_ptr<mrcuda::DeviceTable> table, std::unique_ptr<JobView> job)
      : Napi::AsyncWorker(env, "mixedRewardCudaBmas"), deferred_(Napi::Promise::Deferred::New(env)), table_(std::move(table)), job_(std::move(job)) {
    result_.resize(job_->in.outLen);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    float ms = 0;
    status_ = mrcuda::bmasRun(table_.get(), job_->in, result_.data(), &ms);
    if (status_.ok()) gLastKernelMs.store(ms);
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      deferred_.Reject(makeError(env, status_.status, status_.message));
      return;
    }
    std::copy(result_.begin(), result_.end(), job_->out);
    deferred_.Resolve(env.Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<mrcuda::DeviceTable> table_;
  std::unique_ptr<JobView> job_;
  std::vector<float> result_;
  Result status_;
};

Napi::Value BmasBatchSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TableWrap* tw = unwrapTable(env, info[0]);
  std::shared_ptr<mrcuda::DeviceTable> t = tw->table(env);
  JobView jv;
  readJob(env, info[1], tw->vocab(), jv, false);
  float ms = 0;
  check(env, mrcuda::bmasRun(t.get(), jv.in, jv.out, &ms));
  gLastKernelMs.store(ms);
  return env.Undefined();
}

Napi::Value BmasBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TableWrap* tw = unwrapTable(env, info[0]);
  std::shared_ptr<mrcuda::DeviceTable> t = tw->table(env);
  auto jv = std::make_unique<JobView>();
  readJob(env, info[1], tw->vocab(), *jv, true);
  auto* worker = new BmasWorker(env, std::move(t), std::move(jv));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// ---- box IoU ---------------------------------------------------------------------------------

struct Boxes {
  bool isDouble = false;
  const void* ptr = nullptr;
  size_t count = 0;
  Napi::Value value;
};

Boxes readBoxes(Napi::Env env, const Napi::Value& v, const char* what) {
  Boxes b;
  if (!v.IsTypedArray()) fail(env, Status::InvalidArgument, std::string(what) + " must be a Float32Array or Float64Array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  size_t len = 0;
  if (ta.TypedArrayType() == napi_float32_array) {
    auto f = v.As<Napi::Float32Array>();
    b.ptr = f.Data();
    len = f.ElementLength();
  } else if (ta.TypedArrayType() == napi_float64_array) {
    auto f = v.As<Napi::Float64Array>();
    b.ptr = f.Data();
    len = f.ElementLength();
    b.isDouble = true;
  } else {
    fail(env, Status::InvalidArgument, std::string(what) + " must be a Float32Array or Float64Array");
  }
  if (len % 4 != 0) fail(env, Status::BadBoxes, std::string(what) + " has length " + std::to_string(len) + ", not a multiple of 4");
  b.count = len / 4;
  b.value = v;
  return b;
}

struct IouArgs {
  Boxes a, b;
  std::shared_ptr<std::vector<double>> widened;  // the Float32Array side when a and b differ in type
  float* out = nullptr;
  size_t outLen = 0;
  bool giou = false;
  bool matrix = false;
};

IouArgs readIouArgs(const Napi::CallbackInfo& info, bool matrix) {
  Napi::Env env = info.Env();
  IouArgs r;
  r.matrix = matrix;
  r.a = readBoxes(env, info[0], "a");
  r.b = readBoxes(env, info[1], "b");
  if (r.a.isDouble != r.b.isDouble) {
    // One Float32Array, one Float64Array: widen the float side (exact) and compute in double.
    Boxes& f = r.a.isDouble ? r.b : r.a;
    const float* src = static_cast<const float*>(f.ptr);
    r.widened = std::make_shared<std::vector<double>>(src, src + 4 * f.count);
    f.ptr = r.widened->data();
    f.isDouble = true;
  }
  auto out = typedArray<float, napi_float32_array>(env, info[2], "out");
  r.out = out.Data();
  r.outLen = out.ElementLength();
  r.giou = info[3].ToBoolean().Value();
  if (!matrix && r.a.count != r.b.count) {
    fail(env, Status::BadBoxes, "a holds " + std::to_string(r.a.count) + " boxes and b " + std::to_string(r.b.count) + "; boxIoU needs equal counts");
  }
  const size_t want = matrix ? r.a.count * r.b.count : r.a.count;
  if (r.outLen != want) fail(env, Status::InvalidArgument, "out has length " + std::to_string(r.outLen) + ", expected " + std::to_string(want));
  return r;
}

Result runIou(const IouArgs& r, float* out) {
  if (r.matrix) {
    return r.a.isDouble ? mrcuda::boxIoUMatrix(static_cast<const double*>(r.a.ptr), r.a.count, static_cast<const double*>(r.b.ptr), r.b.count, out, r.giou)
                        : mrcuda::boxIoUMatrix(static_cast<const float*>(r.a.ptr), r.a.count, static_cast<const float*>(r.b.ptr), r.b.count, out, r.giou);
  }
  return r.a.isDouble ? mrcuda::boxIoU(static_cast<const double*>(r.a.ptr), static_cast<const double*>(r.b.ptr), r.a.count, out, r.giou)
                      : mrcuda::boxIoU(static_cast<const float*>(r.a.ptr), static_cast<const float*>(r.b.ptr), r.a.count, out, r.giou);
}

class IouWorker : public Napi::AsyncWorker {
 public:
  IouWorker(Napi::Env env, IouArgs args, Napi::Value outValue)
      : Napi::AsyncWorker(env, "mixedRewardCudaIoU"), deferred_(Napi::Promise::Deferred::New(env)), args_(args) {
    keepA_ = Napi::Persistent(args_.a.value);
    keepB_ = Napi::Persistent(args_.b.value);
    keepOut_ = Napi::Persistent(outValue);
    result_.resize(args_.outLen);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { status_ = runIou(args_, result_.data()); }
  void OnOK() override {
    if (!status_.ok()) {
      deferred_.Reject(makeError(Env(), status_.status, status_.message));
      return;
    }
    std::copy(result_.begin(), result_.end(), args_.out);
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  IouArgs args_;
  Napi::Reference<Napi::Value> keepA_, keepB_, keepOut_;
  std::vector<float> result_;
  Result status_;
};

Napi::Value IouSync(const Napi::CallbackInfo& info, bool matrix) {
  IouArgs r = readIouArgs(info, matrix);
  check(info.Env(), runIou(r, r.out));
  return info.Env().Undefined();
}

Napi::Value IouAsync(const Napi::CallbackInfo& info, bool matrix) {
  IouArgs r = readIouArgs(info, matrix);
  auto* w = new IouWorker(info.Env(), r, info[2]);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// ---- module ----------------------------------------------------------------------------------

Napi::Value Init(const Napi::CallbackInfo& info) {
  mrnapi::init_error_classes(info.Env(), info[0]);
  return info.Env().Undefined();
}

Napi::Object probeObject(Napi::Env env) {
  const mrcuda::ProbeInfo p = mrcuda::probe();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", p.ok);
  if (!p.ok) o.Set("reason", p.reason);
  if (!p.device.empty()) {
    o.Set("device", p.device);
    o.Set("computeCapability", p.computeCapability);
    o.Set("memoryBytes", static_cast<double>(p.memoryBytes));
    o.Set("multiprocessors", p.multiprocessors);
  }
  o.Set("driverVersion", p.driverVersion);
  o.Set("runtimeVersion", p.runtimeVersion);
  return o;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  try {
    return probeObject(info.Env());
  } catch (...) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("ok", false);
    o.Set("reason", "probe failed");
    return o;
  }
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = probeObject(env);
  o.Set("kernel", o.Has("device") ? o.Get("device") : Napi::String::New(env, "cuda (no device)"));
  o.Set("exact", "split-bf16-mma (MIXED_REWARD_CUDA_EXACT=ffma: fp32-ffma)");
  o.Set("fast", "bf16-mma");
  return o;
}

Napi::Value CreateTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto rows = typedArray<float, napi_float32_array>(env, info[0], "data");
  if (!info[1].IsNumber() || !info[2].IsNumber()) fail(env, Status::InvalidArgument, "vocabSize and dim must be numbers");
  const double vocab = info[1].As<Napi::Number>().DoubleValue(), dim = info[2].As<Napi::Number>().DoubleValue();
  if (!(vocab >= 1 && vocab <= 2147483647.0 && vocab == static_cast<double>(static_cast<int64_t>(vocab)))) {
    fail(env, Status::InvalidArgument, "vocabSize must be a positive integer below 2^31");
  }
  if (!(dim >= 1 && dim <= 1048576.0 && dim == static_cast<double>(static_cast<int64_t>(dim)))) {
    fail(env, Status::InvalidArgument, "dim must be a positive integer up to 2^20");
  }
  if (static_cast<double>(rows.ElementLength()) != vocab * dim) {
    fail(env, Status::InvalidArgument, "data has " + std::to_string(rows.ElementLength()) + " values, expected vocabSize * dim");
  }
  mrcuda::DeviceTable* t = nullptr;
  check(env, mrcuda::tableCreate(rows.Data(), static_cast<int>(vocab), static_cast<int>(dim), &t));
  return data(env).tableCtor.New({Napi::External<mrcuda::DeviceTable>::New(env, t)});
}

Napi::Value LastKernelMs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gLastKernelMs.load()); }

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  auto* d = new AddonData();
  env.SetInstanceData<AddonData>(d);
  d->tableCtor = Napi::Persistent(TableWrap::Define(env));
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("createTable", Napi::Function::New(env, CreateTable, "createTable"));
  exports.Set("bmasBatchSync", Napi::Function::New(env, BmasBatchSync, "bmasBatchSync"));
  exports.Set("bmasBatch", Napi::Function::New(env, BmasBatch, "bmasBatch"));
  exports.Set("boxIoUSync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return IouSync(i, false); }, "boxIoUSync"));
  exports.Set("boxIoU", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return IouAsync(i, false); }, "boxIoU"));
  exports.Set("boxIoUMatrixSync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return IouSync(i, true); }, "boxIoUMatrixSync"));
  exports.Set("boxIoUMatrix", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return IouAsync(i, true); }, "boxIoUMatrix"));
  exports.Set("lastKernelMs", Napi::Function::New(env, LastKernelMs, "lastKernelMs"));
  return exports;
}

}  // namespace

mrnapi::ErrorClasses* mrnapi::error_classes(Napi::Env env) {
  AddonData* d = env.GetInstanceData<AddonData>();
  return d ? &d->errors : nullptr;
}

NODE_API_MODULE(mixed_reward_cuda, Module)
