// A data-race check of the persistent kernels under ThreadSanitizer: the real grid barrier
// (cuda_common.cuh, atomics as std::atomic_ref) must order every write of one step before
// every read of the next, across blocks. Built and run by tests/test_cuda_kernel.py with
// g++ -fsanitize=thread; exits 0 when the launches finished inside their shared memory.
#include "emulate.cpp"

#include <cstdio>
#include <vector>

int main() {
    const int T = 30, B = 2, H = 12, rows = 2, block = 8, stride = H + 1;
    const unsigned grid = 6;  // one slice per block, six blocks meeting at every step
    std::vector<double> xw(T * B * H, 0.1), w(H * H, 0.05), h0(B * H, 0.2), hs(T * B * H);
    std::vector<double> g(T * B * H, 1.0), g_hn(B * H, 0.5), d_xw(T * B * H), d_h0(B * H);
    std::vector<double> state(2 * B * H), dbuf(2 * B * H);
    std::vector<long long> lengths(B, T);
    unsigned forward_bar[3] = {0, 0, 0}, backward_bar[3] = {0, 0, 0};
    const std::size_t shared = (rows * stride + block) * sizeof(double);
    const int overflow =
        emu_rnn_forward_persistent_f64(grid, block, shared, xw.data(), w.data(), h0.data(),
                                       lengths.data(), T, B, H, 0, rows, stride, hs.data(),
                                       state.data(), forward_bar) +
        emu_rnn_backward_persistent_f64(grid, block, shared, g.data(), hs.data(), w.data(),
                                        lengths.data(), g_hn.data(), T, B, H, 0, 0, rows, stride,
                                        d_xw.data(), d_h0.data(), dbuf.data(), backward_bar);
    std::printf("overflow %d, refused %u %u, h_T %.6f, d_h0 %.6f\n", overflow, forward_bar[2],
                backward_bar[2], hs.back(), d_h0[0]);
    return overflow || forward_bar[2] || backward_bar[2];
}
