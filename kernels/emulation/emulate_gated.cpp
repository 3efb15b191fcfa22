// The CUDA kernels of kernels/gated_time_loop.cu as host functions, as emulate.cpp does for
// the Elman kernels: emu_<kernel>(grid, block, shared_bytes, kernel arguments...) runs the
// kernel under the emulation header and returns 1 if it wrote past its shared memory, else 0.
// Including emulate.cpp puts the Elman kernels in the same library, so the stand-in CuPy of
// the tests can serve every kernel from one build.
#include "emulate.cpp"
#include "../gated_time_loop.cu"

#define TR_EMULATE_GATED(NAME, T, SUFFIX)                                                      \
    extern "C" int emu_##NAME##_forward_persistent_##SUFFIX(                                   \
        unsigned g, unsigned b, std::size_t sh, const T* xw, const T* w, const T* state0,      \
        const long long* lengths, const T* b_hn, int steps, int B, int H, int rows,            \
        int stride, T* ys, T* saved, T* state, T* c, unsigned int* bar) {                      \
        return tr_launch(g, b, sh, [&] {                                                       \
            NAME##_forward_persistent_##SUFFIX(xw, w, state0, lengths, b_hn, steps, B, H,      \
                                               rows, stride, ys, saved, state, c, bar);        \
        });                                                                                    \
    }                                                                                          \
    extern "C" int emu_##NAME##_backward_persistent_##SUFFIX(                                  \
        unsigned g, unsigned b, std::size_t sh, const T* g_ys, const T* ys, const T* saved,    \
        const T* state0, const T* w, const long long* lengths, int steps, int B, int H,        \
        int truncate, int rows, int stride, T* d_xw, T* d_hw, T* d_state0, T* aux,             \
        unsigned int* bar) {                                                                   \
        return tr_launch(g, b, sh, [&] {                                                       \
            NAME##_backward_persistent_##SUFFIX(g_ys, ys, saved, state0, w, lengths, steps, B, \
                                                H, truncate, rows, stride, d_xw, d_hw,         \
                                                d_state0, aux, bar);                           \
        });                                                                                    \
    }                                                                                          \
    extern "C" int emu_##NAME##_step_forward_##SUFFIX(                                         \
        unsigned g, unsigned b, std::size_t sh, const T* gates, const T* xw,                   \
        const long long* lengths, const T* b_hn, int t, int steps, int B, int H, T* h, T* c,   \
        T* ys, T* saved) {                                                                     \
        return tr_launch(g, b, sh, [&] {                                                       \
            NAME##_step_forward_##SUFFIX(gates, xw, lengths, b_hn, t, steps, B, H, h, c, ys,   \
                                         saved);                                               \
        });                                                                                    \
    }                                                                                          \
    extern "C" int emu_##NAME##_step_backward_##SUFFIX(                                        \
        unsigned g, unsigned b, std::size_t sh, const T* p, int cut, const T* g_ys,            \
        const T* ys, const T* saved, const T* state0, const long long* lengths, int t,         \
        int steps, int B, int H, T* d_xw, T* d_hw, T* aux) {                                   \
        return tr_launch(g, b, sh, [&] {                                                       \
            NAME##_step_backward_##SUFFIX(p, cut, g_ys, ys, saved, state0, lengths, t, steps,  \
                                          B, H, d_xw, d_hw, aux);                              \
        });                                                                                    \
    }

TR_EMULATE_GATED(gru, float, f32)
TR_EMULATE_GATED(gru, double, f64)
TR_EMULATE_GATED(lstm, float, f32)
TR_EMULATE_GATED(lstm, double, f64)
