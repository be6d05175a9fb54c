// What both Node addons (the CPU one, native/binding/addon.cc, and the CUDA one,
// native/cuda/binding_cuda.cc) need at the boundary: the typed error classes of lib/errors.ts,
// handed over by `init(classes)`, and TypedArray argument checks whose messages name the argument.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace mrnapi {

// In the order of kClassNames.
enum class ErrKind { InvalidArgument, ValueRange, TokenRange, Box, Native };
constexpr int kErrKinds = 5;
inline const char* const kClassNames[kErrKinds] = {"InvalidArgumentError", "ValueRangeError", "TokenRangeError",
                                                   "BoxError", "NativeError"};

struct ErrorClasses {
  Napi::FunctionReference cls[kErrKinds];
};

// Defined by each addon: the ErrorClasses in its instance data (null before the module is set up).
ErrorClasses* error_classes(Napi::Env env);

// An instance of the class for `kind`; before init(), a built-in error of the matching kind.
inline Napi::Value make_error(Napi::Env env, ErrKind kind, const std::string& msg) {
  ErrorClasses* c = error_classes(env);
  const int k = static_cast<int>(kind);
  if (c && !c->cls[k].IsEmpty()) return c->cls[k].New({Napi::String::New(env, msg)});
  if (kind == ErrKind::InvalidArgument) return Napi::TypeError::New(env, msg).Value();
  if (kind == ErrKind::Native) return Napi::Error::New(env, msg).Value();
  return Napi::RangeError::New(env, msg).Value();
}

[[noreturn]] inline void fail(Napi::Env env, ErrKind kind, const std::string& msg) {
  throw Napi::Error(env, make_error(env, kind, msg));
}

// The body of init(classes): takes every class of lib/errors.ts from `arg`.
inline void init_error_classes(Napi::Env env, const Napi::Value& arg) {
  if (!arg.IsObject()) fail(env, ErrKind::InvalidArgument, "init() needs the error classes object");
  Napi::Object classes = arg.As<Napi::Object>();
  ErrorClasses* c = error_classes(env);
  for (int k = 0; k < kErrKinds; ++k) {
    Napi::Value v = classes.Get(kClassNames[k]);
    if (!v.IsFunction()) throw Napi::TypeError::New(env, std::string("init(): classes.") + kClassNames[k] + " must be a class");
    c->cls[k] = Napi::Persistent(v.As<Napi::Function>());
  }
}

inline const char* typed_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

// What a wrong argument was, for the "(got ...)" of a message.
inline std::string describe_value(const Napi::Value& v) {
  if (v.IsTypedArray()) return typed_name(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsArray()) return "an Array";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  return "an object";
}

inline std::string with_article(const std::string& noun) {
  return (noun.find_first_of("AEIOU") == 0 ? "an " : "a ") + noun;
}

// `v` as a TypedArray of type `want`, else an InvalidArgumentError naming `name`.
inline Napi::TypedArray typed_arg(Napi::Env env, const Napi::Value& v, napi_typedarray_type want, const std::string& name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want) {
    fail(env, ErrKind::InvalidArgument, name + " must be " + with_article(typed_name(want)) + " (got " + describe_value(v) + ")");
  }
  return v.As<Napi::TypedArray>();
}

template <class T>
T* typed_data(const Napi::TypedArray& a) {
  return reinterpret_cast<T*>(static_cast<std::uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}

}  // namespace mrnapi
