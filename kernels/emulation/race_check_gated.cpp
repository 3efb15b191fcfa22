// A data-race check of the GRU and LSTM persistent kernels under ThreadSanitizer, as
// race_check.cpp for the Elman ones: the grid barrier must order every write of one step
// (h_t, d_hw_t) before every read of the next across blocks, and the per-unit carries (the
// LSTM's c, `aux`) written in one block and read in another. Built and run by
// tests/test_cuda_gated.py with g++ -fsanitize=thread; exits 0 when the launches finished
// inside their shared memory.
#include "emulate_gated.cpp"

#include <cstdio>
#include <vector>

template <typename Forward, typename Backward>
int check(int G, int S, Forward forward, Backward backward) {
    const int T = 12, B = 2, H = 12, rows = 2, block = 8;
    const unsigned grid = 6;  // one slice per block, six blocks meeting at every step
    const int fwd_stride = H + 1, bwd_stride = G * H + 1;
    std::vector<double> xw(T * B * G * H, 0.1), w(G * H * H, 0.05), s0(S * B * H, 0.2);
    std::vector<double> b_hn(H, 0.1), ys(S * T * B * H), saved(T * B * 4 * H);
    std::vector<double> g(S * T * B * H, 1.0), d_xw(T * B * G * H), d_hw(T * B * G * H);
    std::vector<double> d_s0(S * B * H), state(2 * B * H), c(B * H), aux(B * H);
    std::vector<long long> lengths(B, T);
    lengths[1] = T - 3;  // a padded sequence too
    unsigned fbar[3] = {0, 0, 0}, bbar[3] = {0, 0, 0};
    const int overflow =
        forward(grid, block, (G * rows * fwd_stride + G * block) * sizeof(double), xw.data(),
                w.data(), s0.data(), lengths.data(), b_hn.data(), T, B, H, rows, fwd_stride,
                ys.data(), saved.data(), state.data(), c.data(), fbar) +
        backward(grid, block, (rows * bwd_stride + block) * sizeof(double), g.data(), ys.data(),
                 saved.data(), s0.data(), w.data(), lengths.data(), T, B, H, 5, rows,
                 bwd_stride, d_xw.data(), G == 4 ? d_xw.data() : d_hw.data(), d_s0.data(),
                 aux.data(), bbar);
    std::printf("G=%d overflow %d, refused %u %u, h_T %.6f, d_h0 %.6f\n", G, overflow, fbar[2],
                bbar[2], ys[T * B * H - 1], d_s0[0]);
    return overflow || fbar[2] || bbar[2];
}

int main() {
    return check(3, 1, emu_gru_forward_persistent_f64, emu_gru_backward_persistent_f64) |
           check(4, 2, emu_lstm_forward_persistent_f64, emu_lstm_backward_persistent_f64);
}
