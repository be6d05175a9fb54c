{
  "targets": [
    {
      "target_name": "mixed_reward",
      "sources": [
        "native/binding/addon.cc",
        "native/core/isa.cc",
        "native/core/thread_pool.cc",
        "native/core/bmas.cc",
        "native/core/gemm_tile_scalar.cc",
        "native/core/gemm_tile_avx2.cc",
        "native/core/gemm_tile_avx512.cc",
        "native/core/gemm_tile_neon.cc",
        "native/core/box_iou.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O3", "-Os"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags": ["-O3", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3"],
      "conditions": [
        ["target_arch=='x64'", {
          "cflags": ["-march=x86-64", "-mtune=generic"]
        }],
        ["target_arch=='arm64' and OS!='mac'", {
          "cflags": ["-march=armv8-a"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_OPTIMIZATION_LEVEL": "3",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["OS=='win'", {
          "defines": ["_HAS_EXCEPTIONS=1"],
          "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"]}}
        }]
      ]
    }
  ]
}
