// The CUDA kernels of kernels/rnn_time_loop.cu as host functions: emu_<kernel>(grid, block,
// shared_bytes, kernel arguments...) runs the kernel under the emulation header and returns 1
// if it wrote past its shared memory, else 0.
#include "cuda_emulation.h"
#include "../rnn_time_loop.cu"

#define TR_EMULATE(T, SUFFIX)                                                                   \
    extern "C" int emu_rnn_forward_persistent_##SUFFIX(                                         \
        unsigned g, unsigned b, std::size_t sh, const T* xw, const T* w, const T* h0,           \
        const long long* lengths, int steps, int B, int H, int relu, int rows, int stride,      \
        T* hs, T* state, unsigned int* bar) {                                                   \
        return tr_launch(g, b, sh, [&] {                                                        \
            rnn_forward_persistent_##SUFFIX(xw, w, h0, lengths, steps, B, H, relu, rows,        \
                                            stride, hs, state, bar);                            \
        });                                                                                     \
    }                                                                                           \
    extern "C" int emu_rnn_backward_persistent_##SUFFIX(                                        \
        unsigned g, unsigned b, std::size_t sh, const T* g_hs, const T* hs, const T* w,         \
        const long long* lengths, const T* g_hn, int steps, int B, int H, int relu,             \
        int truncate, int rows, int stride, T* d_xw, T* d_h0, T* dbuf, unsigned int* bar) {     \
        return tr_launch(g, b, sh, [&] {                                                        \
            rnn_backward_persistent_##SUFFIX(g_hs, hs, w, lengths, g_hn, steps, B, H, relu,     \
                                             truncate, rows, stride, d_xw, d_h0, dbuf, bar);    \
        });                                                                                     \
    }                                                                                           \
    extern "C" int emu_rnn_step_forward_##SUFFIX(unsigned g, unsigned b, std::size_t sh,        \
                                                  const T* a, const T* xw_t,                    \
                                                  const long long* lengths, int t, int B,       \
                                                  int H, int relu, T* h, T* hs_t) {             \
        return tr_launch(g, b, sh,                                                              \
                  [&] { rnn_step_forward_##SUFFIX(a, xw_t, lengths, t, B, H, relu, h, hs_t); }); \
    }                                                                                           \
    extern "C" int emu_rnn_step_backward_##SUFFIX(                                              \
        unsigned g, unsigned b, std::size_t sh, const T* dh, const T* g_hs, const T* hs,        \
        const T* g_hn, const long long* lengths, int t, int B, int H, int relu, T* d_a_t) {     \
        return tr_launch(g, b, sh, [&] {                                                        \
            rnn_step_backward_##SUFFIX(dh, g_hs, hs, g_hn, lengths, t, B, H, relu, d_a_t);      \
        });                                                                                     \
    }

TR_EMULATE(float, f32)
TR_EMULATE(double, f64)
