// The Node-API face of the native core: argument checks, typed errors, a table object, and
// async workers. All numeric work lives in native/core (no Node types there).
//
// Errors: `init(classes)` hands over the JS error classes of lib/errors.ts; every throw below
// creates an instance of one of them, so JS callers can rely on `instanceof` and `.code`.
// Lifetime: every async call holds persistent references to each TypedArray it reads or writes
// (the table's Float32Array included) until its promise settles, so neither GC nor a
// `dispose()` meanwhile can free memory a worker thread is using.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../core/bmas.h"
#include "../core/box_iou.h"
#include "../core/isa.h"
#include "../core/thread_pool.h"
#include "napi_args.h"

namespace {

using mrnapi::ErrKind;
using mrnapi::describe_value;
using mrnapi::fail;
using mrnapi::make_error;
using mrnapi::typed_arg;
using mrnapi::typed_data;
using mrnapi::typed_name;

struct AddonData {
  mrnapi::ErrorClasses errors;
  Napi::FunctionReference table_ctor;
};

AddonData* data_of(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

ErrKind kind_of(mr::Status s) {
  switch (s) {
    case mr::Status::RespIdRange:
    case mr::Status::RefIdRange: return ErrKind::TokenRange;
    case mr::Status::BadWeight: return ErrKind::ValueRange;
    case mr::Status::OutOfMemory:
    case mr::Status::Internal: return ErrKind::Native;
    default: return ErrKind::InvalidArgument;
  }
}

// ---- argument helpers ----

std::int64_t int_arg(Napi::Env env, const Napi::Value& v, const std::string& name, std::int64_t lo, std::int64_t hi) {
  if (!v.IsNumber()) fail(env, ErrKind::InvalidArgument, name + " must be a number (got " + describe_value(v) + ")");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    fail(env, ErrKind::ValueRange,
         name + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " +
             Napi::Number::New(env, d).ToString().Utf8Value() + ")");
  }
  return static_cast<std::int64_t>(d);
}

bool bool_arg(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) fail(env, ErrKind::InvalidArgument, name + " must be a boolean (got " + describe_value(v) + ")");
  return v.As<Napi::Boolean>().Value();
}

// Byte ranges of two TypedArrays overlap (same ArrayBuffer memory).
bool overlaps(const Napi::TypedArray& a, const Napi::TypedArray& b) {
  const auto* pa = static_cast<const std::uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  const auto* pb = static_cast<const std::uint8_t*>(b.ArrayBuffer().Data()) + b.ByteOffset();
  return a.ByteLength() > 0 && b.ByteLength() > 0 && pa < pb + b.ByteLength() && pb < pa + a.ByteLength();
}

// Keeps JS objects alive for the duration of an async call.
class Keep {
 public:
  void add(const Napi::Object& o) { refs_.push_back(Napi::Persistent(o)); }
 private:
  std::vector<Napi::ObjectReference> refs_;
};

// ---- the table object ----

class Table : public Napi::ObjectWrap<Table> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeTable",
                       {InstanceAccessor<&Table::vocab_size>("vocabSize"), InstanceAccessor<&Table::dim>("dim"),
                        InstanceMethod<&Table::dispose>("dispose")});
  }

  explicit Table(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Table>(info) {
    Napi::Env env = info.Env();
    Napi::TypedArray data = typed_arg(env, info[0], napi_float32_array, "data");
    vocab_ = int_arg(env, info[1], "vocabSize", 0, 0x7fffffff);
    dim_ = int_arg(env, info[2], "dim", 1, 1 << 24);
    if (static_cast<double>(data.ElementLength()) != static_cast<double>(vocab_) * static_cast<double>(dim_)) {
      fail(env, ErrKind::InvalidArgument,
           "data has " + std::to_string(data.ElementLength()) + " values, expected vocabSize * dim = " +
               std::to_string(vocab_ * dim_));
    }
    array_ = Napi::Persistent(data.As<Napi::Object>());
  }

  // The live view of the rows, re-checked at each call (a detached buffer reads as length 0).
  mr::TableView view(Napi::Env env, Keep* keep) {
    if (array_.IsEmpty()) fail(env, ErrKind::Native, "the native table was disposed");
    Napi::TypedArray a = array_.Value().As<Napi::TypedArray>();
    if (a.ElementLength() != static_cast<std::size_t>(vocab_ * dim_)) {
      fail(env, ErrKind::Native, "the table's Float32Array was detached or resized");
    }
    if (keep) keep->add(a);
    return {typed_data<float>(a), vocab_, dim_};
  }

 private:
  Napi::Value vocab_size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(vocab_)); }
  Napi::Value dim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(dim_)); }
  // Drops this object's hold on the rows; batches in flight keep their own.
  Napi::Value dispose(const Napi::CallbackInfo& info) {
    array_.Reset();
    return info.Env().Undefined();
  }

  Napi::ObjectReference array_;
  std::int64_t vocab_ = 0, dim_ = 0;
};

Table* table_arg(Napi::Env env, const Napi::Value& v) {
  AddonData* d = data_of(env);
  if (!v.IsObject() || !d || !v.As<Napi::Object>().InstanceOf(d->table_ctor.Value())) {
    fail(env, ErrKind::InvalidArgument, "table must be a NativeTable from createTable() (got " + describe_value(v) + ")");
  }
  return Table::Unwrap(v.As<Napi::Object>());
}

// ---- BMAS ----

struct BmasCall {
  mr::TableView table{};
  mr::BmasBatch batch{};
  Keep keep;
};

void parse_bmas(Napi::Env env, const Napi::CallbackInfo& info, BmasCall& call, bool keep_alive) {
  Table* t = table_arg(env, info[0]);
  Keep* keep = keep_alive ? &call.keep : nullptr;
  call.table = t->view(env, keep);
  if (!info[1].IsObject() || info[1].IsTypedArray() || info[1].IsArray()) {
    fail(env, ErrKind::InvalidArgument, "job must be a BmasJob object (got " + describe_value(info[1]) + ")");
  }
  Napi::Object job = info[1].As<Napi::Object>();
  auto field = [&](const char* name, napi_typedarray_type type) {
    Napi::TypedArray a = typed_arg(env, job.Get(name), type, std::string("job.") + name);
    if (a.ElementLength() > 0x7fffffffu) fail(env, ErrKind::InvalidArgument, std::string("job.") + name + " is too long");
    if (keep) keep->add(a);
    return a;
  };
  Napi::TypedArray resp_ids = field("respIds", napi_int32_array);
  Napi::TypedArray resp_off = field("respOffsets", napi_int32_array);
  Napi::TypedArray ref_ids = field("refIds", napi_int32_array);
  Napi::TypedArray ref_off = field("refOffsets", napi_int32_array);
  Napi::TypedArray pair_ref = field("pairRef", napi_int32_array);
  Napi::TypedArray out = field("out", napi_float32_array);
  const Napi::Value wv = job.Get("weights");
  const float* weights = nullptr;
  if (!wv.IsNull() && !wv.IsUndefined()) {
    Napi::TypedArray w = typed_arg(env, wv, napi_float32_array, "job.weights");
    if (w.ElementLength() != static_cast<std::size_t>(call.table.vocab_size)) {
      fail(env, ErrKind::InvalidArgument, "job.weights has " + std::to_string(w.ElementLength()) +
                                              " entries, expected vocabSize = " + std::to_string(call.table.vocab_size));
    }
    if (keep) keep->add(w);
    weights = typed_data<float>(w);
  }
  const int combine = static_cast<int>(int_arg(env, job.Get("combine"), "job.combine", 0, 1));
  const Napi::Value pv = job.Get("precision");
  if (!pv.IsUndefined()) int_arg(env, pv, "job.precision", 0, 1);  // CPU is always exact

  if (resp_off.ElementLength() < 1) fail(env, ErrKind::InvalidArgument, "job.respOffsets must have N + 1 >= 1 entries");
  if (ref_off.ElementLength() < 1) fail(env, ErrKind::InvalidArgument, "job.refOffsets must have G + 1 >= 1 entries");
  const std::size_t n = resp_off.ElementLength() - 1;
  if (pair_ref.ElementLength() != n) {
    fail(env, ErrKind::InvalidArgument, "job.pairRef has " + std::to_string(pair_ref.ElementLength()) +
                                            " entries, expected N = " + std::to_string(n));
  }
  if (out.ElementLength() != 3 * n) {
    fail(env, ErrKind::InvalidArgument,
         "job.out has " + std::to_string(out.ElementLength()) + " entries, expected 3N = " + std::to_string(3 * n));
  }
  call.batch = mr::BmasBatch{typed_data<std::int32_t>(resp_ids), resp_ids.ElementLength(),
                             typed_data<std::int32_t>(resp_off), n,
                             typed_data<std::int32_t>(ref_ids), ref_ids.ElementLength(),
                             typed_data<std::int32_t>(ref_off), ref_off.ElementLength() - 1,
                             typed_data<std::int32_t>(pair_ref), weights, combine, typed_data<float>(out)};
}

Napi::Value bmas_error(Napi::Env env, const mr::ErrorInfo& e, std::int64_t vocab) {
  return make_error(env, kind_of(e.status), mr::describe(e, vocab));
}

Napi::Value BmasBatchSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BmasCall call;
  parse_bmas(env, info, call, false);
  mr::ErrorInfo err;
  if (mr::bmas_batch(call.table, call.batch, &err) != mr::Status::Ok) {
    throw Napi::Error(env, bmas_error(env, err, call.table.vocab_size));
  }
  return env.Undefined();
}

class BmasWorker : public Napi::AsyncWorker {
 public:
  BmasWorker(Napi::Env env, std::unique_ptr<BmasCall> call)
      : Napi::AsyncWorker(env, "mixed-reward:bmasBatch"), call_(std::move(call)), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { status_ = mr::bmas_batch(call_->table, call_->batch, &err_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (status_ == mr::Status::Ok) deferred_.Resolve(env.Undefined());
    else deferred_.Reject(bmas_error(env, err_, call_->table.vocab_size));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::unique_ptr<BmasCall> call_;
  Napi::Promise::Deferred deferred_;
  mr::Status status_ = mr::Status::Internal;
  mr::ErrorInfo err_;
};

Napi::Value BmasBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto call = std::make_unique<BmasCall>();
  parse_bmas(env, info, *call, true);
  auto* w = new BmasWorker(env, std::move(call));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// ---- box IoU ----

struct IouCall {
  mr::BoxArrayView a{}, b{};
  float* out = nullptr;
  bool giou = false;
  bool matrix = false;
  std::vector<double> copy_a, copy_b;  // when `out` overlaps an input
  Keep keep;
};

mr::BoxArrayView boxes_arg(Napi::Env env, const Napi::Value& v, const char* name, Napi::TypedArray* arr) {
  if (!v.IsTypedArray()) {
    fail(env, ErrKind::InvalidArgument,
         std::string(name) + " must be a Float32Array or Float64Array (got " + describe_value(v) + ")");
  }
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  const napi_typedarray_type t = a.TypedArrayType();
  if (t != napi_float32_array && t != napi_float64_array) {
    fail(env, ErrKind::InvalidArgument,
         std::string(name) + " must be a Float32Array or Float64Array (got " + typed_name(t) + ")");
  }
  if (a.ElementLength() % 4 != 0) {
    fail(env, ErrKind::Box, std::string(name) + " has length " + std::to_string(a.ElementLength()) +
                                ", not a multiple of 4 ([x1, y1, x2, y2] per box)");
  }
  *arr = a;
  return {static_cast<const std::uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(),
          t == napi_float32_array ? mr::BoxType::F32 : mr::BoxType::F64, a.ElementLength() / 4};
}

void private_copy(mr::BoxArrayView& v, std::vector<double>& store) {
  store.resize(4 * v.boxes);
  for (std::size_t i = 0; i < store.size(); ++i) {
    store[i] = v.type == mr::BoxType::F32 ? static_cast<const float*>(v.data)[i] : static_cast<const double*>(v.data)[i];
  }
  v = {store.data(), mr::BoxType::F64, v.boxes};
}

void parse_iou(Napi::Env env, const Napi::CallbackInfo& info, IouCall& call, bool matrix, bool keep_alive) {
  Napi::TypedArray ta, tb;
  call.a = boxes_arg(env, info[0], "a", &ta);
  call.b = boxes_arg(env, info[1], "b", &tb);
  Napi::TypedArray out = typed_arg(env, info[2], napi_float32_array, "out");
  call.giou = bool_arg(env, info[3], "giou");
  call.matrix = matrix;
  std::size_t want;
  if (matrix) {
    const double cells = static_cast<double>(call.a.boxes) * static_cast<double>(call.b.boxes);
    if (cells > static_cast<double>(std::numeric_limits<std::uint32_t>::max())) {
      fail(env, ErrKind::Box, "a N x M matrix of " + std::to_string(call.a.boxes) + " x " +
                                  std::to_string(call.b.boxes) + " boxes is too large");
    }
    want = call.a.boxes * call.b.boxes;
  } else {
    if (call.a.boxes != call.b.boxes) {
      fail(env, ErrKind::Box, "a has " + std::to_string(call.a.boxes) + " boxes and b has " +
                                  std::to_string(call.b.boxes) + ": elementwise IoU needs equal counts");
    }
    want = call.a.boxes;
  }
  if (out.ElementLength() != want) {
    fail(env, ErrKind::InvalidArgument,
         "out has " + std::to_string(out.ElementLength()) + " entries, expected " + std::to_string(want));
  }
  call.out = typed_data<float>(out);
  if (overlaps(out, ta)) private_copy(call.a, call.copy_a);
  if (overlaps(out, tb)) private_copy(call.b, call.copy_b);
  if (keep_alive) {
    call.keep.add(ta);
    call.keep.add(tb);
    call.keep.add(out);
  }
}

void run_iou(const IouCall& c) {
  if (c.matrix) mr::box_iou_matrix(c.a, c.b, c.out, c.giou);
  else mr::box_iou(c.a, c.b, c.out, c.giou);
}

class IouWorker : public Napi::AsyncWorker {
 public:
  IouWorker(Napi::Env env, std::unique_ptr<IouCall> call)
      : Napi::AsyncWorker(env, "mixed-reward:boxIoU"), call_(std::move(call)), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      run_iou(*call_);
    } catch (const std::bad_alloc&) {
      SetError("out of memory in the box IoU kernel");
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_error(Env(), ErrKind::Native, e.Message()));
  }

 private:
  std::unique_ptr<IouCall> call_;
  Napi::Promise::Deferred deferred_;
};

template <bool Matrix>
Napi::Value IouSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IouCall call;
  parse_iou(env, info, call, Matrix, false);
  try {
    run_iou(call);
  } catch (const std::bad_alloc&) {
    fail(env, ErrKind::Native, "out of memory in the box IoU kernel");
  }
  return env.Undefined();
}

template <bool Matrix>
Napi::Value IouAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto call = std::make_unique<IouCall>();
  parse_iou(env, info, *call, Matrix, true);
  auto* w = new IouWorker(env, std::move(call));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// ---- module ----

Napi::Value Init(const Napi::CallbackInfo& info) {
  mrnapi::init_error_classes(info.Env(), info[0]);
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernel", mr::isa_name(mr::isa_active()));
  o.Set("threads", Napi::Number::New(env, static_cast<double>(mr::pool_threads())));
  o.Set("best", mr::isa_name(mr::isa_default()));
  return o;
}

Napi::Value CreateTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return data_of(env)->table_ctor.New({info[0], info[1], info[2]});
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  auto* d = new AddonData();
  env.SetInstanceData(d);
  d->table_ctor = Napi::Persistent(Table::define(env));
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("createTable", Napi::Function::New(env, CreateTable, "createTable"));
  exports.Set("bmasBatchSync", Napi::Function::New(env, BmasBatchSync, "bmasBatchSync"));
  exports.Set("bmasBatch", Napi::Function::New(env, BmasBatch, "bmasBatch"));
  exports.Set("boxIoUSync", Napi::Function::New(env, IouSync<false>, "boxIoUSync"));
  exports.Set("boxIoU", Napi::Function::New(env, IouAsync<false>, "boxIoU"));
  exports.Set("boxIoUMatrixSync", Napi::Function::New(env, IouSync<true>, "boxIoUMatrixSync"));
  exports.Set("boxIoUMatrix", Napi::Function::New(env, IouAsync<true>, "boxIoUMatrix"));
  return exports;
}

}  // namespace

mrnapi::ErrorClasses* mrnapi::error_classes(Napi::Env env) {
  AddonData* d = data_of(env);
  return d ? &d->errors : nullptr;
}

NODE_API_MODULE(mixed_reward, Module)
