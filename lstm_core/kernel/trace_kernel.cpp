// The recurrence of one LSTM layer and direction, recording every gate and state.
//
// Python (lstm_core/kernel/wrapper.py) projects the inputs of a chunk of steps in one
// GEMM into `work` (n, B, G*H) and calls `recur`, which per step
//   1. adds h_{t-1} W_hh^T into the step's pre-activations: one GEMM, with W prepared once
//      per call (`pack`): our own panel GEMM for few rows, else MKL's packed GEMM where torch
//      exports it (x86 MKL builds), else at::mm;
//   2. runs one pass over each row b of the batch that writes i, f, g, o, c_t and h_t:
//          i, f, o = σ(z + p ⊙ c) ;  g = tanh(z) ;  c_t = f ⊙ c_{t-1} + i ⊙ g ;  h_t = o ⊙ tanh(c_t)
//      with the variant's switches (missing gates are 1, coupled i = 1 - f, no activations,
//      peepholes, hard sigmoid, full gate recurrence, projection h_t = W_hr h'_t).
// Float32 on the CPU only; everything else stays on the Python paths.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>  // the panel GEMM
#endif

// MKL's packed GEMM, resolved at load time when libtorch_cpu exports it; weak, so the
// kernel still loads (and uses at::mm) where it does not.
extern "C" {
__attribute__((weak)) size_t cblas_sgemm_pack_get_size(int identifier, int m, int n, int k);
__attribute__((weak)) void cblas_sgemm_pack(int layout, int identifier, int trans, int m, int n, int k,
                                            float alpha, const float* src, int ld, float* dest);
__attribute__((weak)) void cblas_sgemm_compute(int layout, int transa, int transb, int m, int n, int k,
                                               const float* a, int lda, const float* b, int ldb,
                                               float beta, float* c, int ldc);
}
namespace {
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112, kPacked = 151, kBMatrix = 162;

bool have_packed_gemm() {
  return cblas_sgemm_pack_get_size != nullptr && cblas_sgemm_pack != nullptr && cblas_sgemm_compute != nullptr;
}

// exp on [-88, 88] (Cephes expf: range reduction by ln 2, degree-5 polynomial, 2^n by
// exponent bits), written as plain arithmetic so that g++ vectorises the loops using it.
inline float exp_f(float x) {
  x = x < -88.0f ? -88.0f : x;  // ternaries, not fmin/fmax: g++ vectorises these
  x = x > 88.0f ? 88.0f : x;
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  x = x - n * 0.693359375f + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * (x * x) + x + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return y * __builtin_bit_cast(float, bits);
}

inline float sigmoid_f(float z) { return 1.0f / (1.0f + exp_f(-z)); }

// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|); near 0 its odd Taylor series,
// which avoids the cancellation in 1 - e (error below 1e-9 there).
inline float tanh_f(float x) {
  float a = x < 0.0f ? -x : x;
  float e = exp_f(-2.0f * a);
  float t = (1.0f - e) / (1.0f + e);
  float x2 = x * x;
  float s = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.0539682540f)));
  return a < 0.0625f ? s : (x < 0.0f ? -t : t);
}

struct Options {
  int64_t slot[4];  // position of i, f, g, o in a row of `work` (0..G-1), -1 if absent
  int64_t peep[3];  // row of p_i, p_f, p_o in the peephole weights, -1 if absent
  bool coupled, input_act, output_act, peep_current, hard, fgr;
  float alpha, beta;  // hard sigmoid clip(alpha z + beta, 0, 1)
};

inline void gate_sigma(const Options& o, const float* __restrict z, float* __restrict out, int64_t H) {
  if (o.hard) {
    const float a = o.alpha, b = o.beta;
    for (int64_t j = 0; j < H; ++j) {
      float v = a * z[j] + b;
      v = v < 0.0f ? 0.0f : v;
      out[j] = v > 1.0f ? 1.0f : v;
    }
  } else {
    for (int64_t j = 0; j < H; ++j) out[j] = sigmoid_f(z[j]);
  }
}

// One batch row of one step: z (G*H) pre-activations (read and modified), r (3H) gate
// recurrence term or null, peep (n_sig, H) or null, cp / c (H), hout (H), prev (3H) or null.
void pointwise(const Options& o, float* __restrict z, const float* __restrict r, const float* __restrict peep,
               const float* __restrict cp, float* __restrict gates, float* __restrict c, float* __restrict hout,
               float* __restrict prev, int64_t H) {
  float* __restrict gi = gates;
  float* __restrict gf = gates + H;
  float* __restrict gg = gates + 2 * H;
  float* __restrict go = gates + 3 * H;
  const int rk[3] = {0, 1, 3};  // i, f, o among the four slots
  for (int q = 0; q < 3; ++q) {  // gate recurrence and peepholes on c_{t-1}, then σ (i, f)
    int k = rk[q];
    if (o.slot[k] < 0) continue;
    float* zk = z + o.slot[k] * H;
    if (r != nullptr) {
      const float* rq = r + q * H;
      for (int64_t j = 0; j < H; ++j) zk[j] += rq[j];
    }
    if (peep != nullptr && o.peep[q] >= 0 && (k != 3 || !o.peep_current)) {
      const float* p = peep + o.peep[q] * H;
      for (int64_t j = 0; j < H; ++j) zk[j] += p[j] * cp[j];
    }
    if (k != 3) gate_sigma(o, zk, gates + k * H, H);
  }
  const float* zg = z + o.slot[2] * H;
  if (o.input_act) {
    for (int64_t j = 0; j < H; ++j) gg[j] = tanh_f(zg[j]);
  } else {
    std::memcpy(gg, zg, H * sizeof(float));
  }
  if (o.slot[1] < 0) std::fill(gf, gf + H, 1.0f);
  if (o.coupled) {
    for (int64_t j = 0; j < H; ++j) gi[j] = 1.0f - gf[j];
  } else if (o.slot[0] < 0) {
    std::fill(gi, gi + H, 1.0f);
  }
  for (int64_t j = 0; j < H; ++j) c[j] = gf[j] * cp[j] + gi[j] * gg[j];
  if (o.slot[3] >= 0) {
    float* zo = z + o.slot[3] * H;
    if (peep != nullptr && o.peep[2] >= 0 && o.peep_current) {
      const float* p = peep + o.peep[2] * H;
      for (int64_t j = 0; j < H; ++j) zo[j] += p[j] * c[j];
    }
    gate_sigma(o, zo, go, H);
  } else {
    std::fill(go, go + H, 1.0f);
  }
  if (o.output_act) {
    for (int64_t j = 0; j < H; ++j) hout[j] = go[j] * tanh_f(c[j]);
  } else {
    for (int64_t j = 0; j < H; ++j) hout[j] = go[j] * c[j];
  }
  if (prev != nullptr) {
    std::memcpy(prev, gi, H * sizeof(float));
    std::memcpy(prev + H, gf, H * sizeof(float));
    std::memcpy(prev + 2 * H, go, H * sizeof(float));
  }
}

// A panel GEMM of our own for the per-step products with B <= kPanelMaxRows rows. W^T is laid
// out once per call in panels of kPanel = 24 output columns, k-major: panel p holds (K, 24)
// floats, so a step reads W once, front to back, and 4 rows x 24 columns of the product stay
// in 12 AVX2 registers. On the AMD EPYC (Zen 3) we measure on, whole traces ran on it as fast
// as on MKL's packed GEMM or faster up to B = 32 (B = 8, H = 512: 0.93x nn.LSTM against 1.38x;
// B = 32, H = 1024: 1.05x against 1.33x); at B = 64-512 it took 1.03-1.14x MKL's time on one
// thread and 0.83-1.05x on two, so MKL's takes over above 32 (LSTM_CORE_KERNEL_GEMM, docs/kernel.md).
// nn.LSTM's own oneDNN GEMM is not exported by torch.
constexpr int64_t kPanelMaxRows = 32;
#if defined(__AVX2__) && defined(__FMA__)
constexpr bool kHavePanel = true;
constexpr int kVec = 3, kPanel = 8 * kVec;
// Rows of a panel prefetched ahead (3 KiB): W is streamed from L3 once per step, and at 9 MiB
// (full gate recurrence's W_gg at H = 512) the GEMM ran at 30 GMAC/s without, 34 with.
constexpr int64_t kAhead = 32;

// rows 0 .. R-1 (R <= 4) of out (R, ncols <= 24) (+)= a (R, K) times one panel (K, 24).
// Named accumulators, not an array: g++ spills an array of vectors to the stack on every k
// (12 stores per 12 FMAs), which made this 3x slower.
template <int R>
inline void panel_block(const float* a, int64_t lda, const float* pk, int64_t K, float* out, int64_t ldc,
                        int ncols, bool accumulate) {
  __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00;
  __m256 s20 = s00, s21 = s00, s22 = s00, s30 = s00, s31 = s00, s32 = s00;
  const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
  for (int64_t k = 0; k < K; ++k) {
    const float* p = pk + k * kPanel;
    _mm_prefetch(reinterpret_cast<const char*>(p + kAhead * kPanel), _MM_HINT_T0);  // 96 bytes: two lines
    _mm_prefetch(reinterpret_cast<const char*>(p + kAhead * kPanel + 16), _MM_HINT_T0);
    __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8), b2 = _mm256_loadu_ps(p + 16);
    // Keeps b0..b2 in registers: left alone, g++ folds each into every FMA that uses it as a
    // memory operand (16 loads per k instead of 7), which ran the GEMM at 21 GMAC/s against 36
    // with this line (W of 4 MiB, 8 rows, one core).
    asm("" : "+x"(b0), "+x"(b1), "+x"(b2));
    __m256 x = _mm256_broadcast_ss(a0 + k);
    s00 = _mm256_fmadd_ps(x, b0, s00), s01 = _mm256_fmadd_ps(x, b1, s01), s02 = _mm256_fmadd_ps(x, b2, s02);
    if constexpr (R > 1) {
      x = _mm256_broadcast_ss(a1 + k);
      s10 = _mm256_fmadd_ps(x, b0, s10), s11 = _mm256_fmadd_ps(x, b1, s11), s12 = _mm256_fmadd_ps(x, b2, s12);
    }
    if constexpr (R > 2) {
      x = _mm256_broadcast_ss(a2 + k);
      s20 = _mm256_fmadd_ps(x, b0, s20), s21 = _mm256_fmadd_ps(x, b1, s21), s22 = _mm256_fmadd_ps(x, b2, s22);
    }
    if constexpr (R > 3) {
      x = _mm256_broadcast_ss(a3 + k);
      s30 = _mm256_fmadd_ps(x, b0, s30), s31 = _mm256_fmadd_ps(x, b1, s31), s32 = _mm256_fmadd_ps(x, b2, s32);
    }
  }
  alignas(32) float t[4][kPanel];
  const __m256 all[4][kVec] = {{s00, s01, s02}, {s10, s11, s12}, {s20, s21, s22}, {s30, s31, s32}};
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < kVec; ++v) _mm256_store_ps(t[r] + 8 * v, all[r][v]);
    float* d = out + r * ldc;
    for (int j = 0; j < ncols; ++j) d[j] = accumulate ? d[j] + t[r][j] : t[r][j];
  }
}

void panel_gemm(const float* a, int64_t lda, const at::Tensor& packed, float* out, int64_t ldc, int64_t m,
                int64_t N, bool accumulate) {
  const int64_t np = packed.size(0), K = packed.size(1);
  const float* PK = packed.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, (1 << 17) / std::max<int64_t>(1, m * K * kPanel));  // ~128K MACs
  at::parallel_for(0, np, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int nc = static_cast<int>(std::min<int64_t>(kPanel, N - p * kPanel));
      const float* pp = PK + p * K * kPanel;
      float* o = out + p * kPanel;
      int64_t r = 0;
      for (; r + 4 <= m; r += 4) panel_block<4>(a + r * lda, lda, pp, K, o + r * ldc, ldc, nc, accumulate);
      switch (m - r) {
        case 3: panel_block<3>(a + r * lda, lda, pp, K, o + r * ldc, ldc, nc, accumulate); break;
        case 2: panel_block<2>(a + r * lda, lda, pp, K, o + r * ldc, ldc, nc, accumulate); break;
        case 1: panel_block<1>(a + r * lda, lda, pp, K, o + r * ldc, ldc, nc, accumulate); break;
        default: break;
      }
    }
  });
}

at::Tensor panel_pack(const at::Tensor& w) {  // w (N, K) -> (np, K, 24), zero-padded columns
  const int64_t N = w.size(0), K = w.size(1), np = (N + kPanel - 1) / kPanel;
  auto out = at::zeros({np, K, kPanel}, w.options());
  float* o = out.data_ptr<float>();
  const float* W = w.data_ptr<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) o[((n / kPanel) * K + k) * kPanel + n % kPanel] = W[n * K + k];
  return out;
}
#else
constexpr bool kHavePanel = false;
void panel_gemm(const float*, int64_t, const at::Tensor&, float*, int64_t, int64_t, int64_t, bool) {}
at::Tensor panel_pack(const at::Tensor& w) { return at::empty({0}, w.options()); }
#endif

// out (m, N) = a (m, K) W^T (+ out if accumulate); W (N, K); packed: `pack`'s result for m rows,
// (np, K, 24) for the panel GEMM, 1-D for MKL's packed GEMM, empty for at::mm.
void gemm(const float* a, int64_t lda, const at::Tensor& w, const at::Tensor& packed, float* out, int64_t ldc,
          int64_t m, bool accumulate) {
  const int64_t N = w.size(0), K = w.size(1);
  if (packed.dim() == 3) {
    panel_gemm(a, lda, packed, out, ldc, m, N, accumulate);
    return;
  }
  if (packed.numel() > 0) {
    cblas_sgemm_compute(kRowMajor, kNoTrans, kPacked, m, N, K, a, lda, packed.data_ptr<float>(), N,
                        accumulate ? 1.0f : 0.0f, out, ldc);
    return;
  }
  auto opt = at::TensorOptions().dtype(at::kFloat);
  auto A = at::from_blob(const_cast<float*>(a), {m, K}, {lda, 1}, opt);
  auto C = at::from_blob(out, {m, N}, {ldc, 1}, opt);
  if (accumulate) {
    C.addmm_(A, w.t());
  } else {
    at::mm_out(C, A, w.t());
  }
}

void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous(), name,
              ": expected a contiguous float32 CPU tensor, got ", t.scalar_type(), " on ", t.device(),
              t.is_contiguous() ? "" : " (not contiguous)");
}
}  // namespace

// W (N, K) prepared for products with m rows. gemm: 0 the measured choice (the panel GEMM for
// m <= kPanelMaxRows, else MKL's), 1 MKL's packed GEMM, 2 the panel GEMM, 3 at::mm. Falls back
// to what exists here (no AVX2 and FMA: no panel GEMM, then MKL's; no MKL symbols: at::mm).
at::Tensor pack(const at::Tensor& w, int64_t m, int64_t gemm) {
  check(w, "pack: w");
  TORCH_CHECK(gemm >= 0 && gemm <= 3, "pack: gemm must be 0 (auto), 1 (mkl), 2 (panel) or 3 (at::mm), got ", gemm);
  const int64_t N = w.size(0), K = w.size(1);
  if (gemm == 0) gemm = m <= kPanelMaxRows ? 2 : 1;
  if (gemm == 2 && kHavePanel) return panel_pack(w);
  if (gemm == 3 || !have_packed_gemm()) return at::empty({0}, w.options());
  size_t bytes = cblas_sgemm_pack_get_size(kBMatrix, m, N, K);
  auto out = at::empty({static_cast<int64_t>((bytes + 3) / 4) + 16}, w.options());
  cblas_sgemm_pack(kRowMajor, kBMatrix, kTrans, m, N, K, 1.0f, w.data_ptr<float>(), K, out.data_ptr<float>());
  return out;
}

bool packed_gemm() { return have_packed_gemm(); }
bool panel_gemm_built() { return kHavePanel; }

// Steps t0 .. t0+n-1 of one layer and direction.
// work (n, B, G*H): x_t W_ih^T + b for these steps, overwritten.
// gates (T, B, 4, H), c (T, B, H), h (T, B, P): the record, rows t0.. written.
// h0 (B, P), c0 (B, H): the states before step 0 (read when t0 == 0).
// whh (G*H, P), whr (P, H) or empty, wgg (3H, 3H) or empty, each with its `pack`;
// peep (n_sig, H) or empty; prev (B, 3H): i, f, o of the step before (gate recurrence);
// hu (B, H): scratch for o ⊙ tanh(c) before the projection.
void recur(at::Tensor work, at::Tensor gates, at::Tensor c, at::Tensor h, at::Tensor h0, at::Tensor c0,
           at::Tensor whh, at::Tensor whh_p, at::Tensor whr, at::Tensor whr_p, at::Tensor wgg, at::Tensor wgg_p,
           at::Tensor peep, at::Tensor prev, at::Tensor hu, at::Tensor r, std::vector<int64_t> slot,
           std::vector<int64_t> peep_rows, int64_t flags, double alpha, double beta, int64_t t0) {
  for (auto* p : {&work, &gates, &c, &h, &h0, &c0, &whh, &prev, &hu, &r}) check(*p, "recur: tensor");
  TORCH_CHECK(slot.size() == 4 && peep_rows.size() == 3, "recur: slot needs 4 entries, peep_rows 3");
  Options o;
  for (int k = 0; k < 4; ++k) o.slot[k] = slot[k];
  for (int k = 0; k < 3; ++k) o.peep[k] = peep_rows[k];
  o.coupled = flags & 1;
  o.input_act = flags & 2;
  o.output_act = flags & 4;
  o.peep_current = flags & 8;
  o.hard = flags & 16;
  o.fgr = flags & 32;
  o.alpha = static_cast<float>(alpha);
  o.beta = static_cast<float>(beta);
  TORCH_CHECK(o.slot[2] >= 0, "recur: the candidate g needs a slot");
  const int64_t n = work.size(0), B = work.size(1), GH = work.size(2);
  const int64_t H = c.size(2), P = h.size(2);
  const bool proj = whr.numel() > 0, has_peep = peep.numel() > 0;
  TORCH_CHECK(gates.size(1) == B && gates.size(2) == 4 && gates.size(3) == H && t0 + n <= gates.size(0),
              "recur: record shapes disagree with work");
  TORCH_CHECK(whh.size(0) == GH && whh.size(1) == P && (!o.fgr || wgg.numel() == 9 * H * H),
              "recur: weight shapes disagree");
  float* W = work.data_ptr<float>();
  float* Gt = gates.data_ptr<float>();
  float* Ct = c.data_ptr<float>();
  float* Ht = h.data_ptr<float>();
  float* HU = hu.data_ptr<float>();
  float* PR = prev.data_ptr<float>();
  float* R = r.data_ptr<float>();
  const float* PE = has_peep ? peep.data_ptr<float>() : nullptr;
  const int64_t grain = std::max<int64_t>(1, 16384 / (4 * H));  // rows per thread: parallel only when wide
  for (int64_t s = 0; s < n; ++s) {
    const int64_t t = t0 + s;
    const float* hp = t == 0 ? h0.data_ptr<float>() : Ht + (t - 1) * B * P;
    const float* cp = t == 0 ? c0.data_ptr<float>() : Ct + (t - 1) * B * H;
    float* z = W + s * B * GH;
    gemm(hp, P, whh, whh_p, z, GH, B, true);
    if (o.fgr) gemm(PR, 3 * H, wgg, wgg_p, R, 3 * H, B, false);
    float* hrow = proj ? HU : Ht + t * B * P;
    at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        pointwise(o, z + b * GH, o.fgr ? R + b * 3 * H : nullptr, PE, cp + b * H, Gt + (t * B + b) * 4 * H,
                  Ct + (t * B + b) * H, hrow + b * H, o.fgr ? PR + b * 3 * H : nullptr, H);
      }
    });
    if (proj) gemm(HU, H, whr, whr_p, Ht + t * B * P, P, B, false);
  }
}

// How far one step is from the cell update: {max |c - (f ⊙ c' + i ⊙ g)|, max |h - o ⊙ act(c) [W_hr^T]|,
// 1 + max |c|}. gates (B, 4, H), c_prev and c (B, H), h (B, P); whr (P, H) or empty. NaN is
// skipped (a non-finite input makes NaN everywhere, which is not the kernel's fault).
std::vector<double> step_error(at::Tensor gates, at::Tensor c_prev, at::Tensor c, at::Tensor h, at::Tensor whr,
                               bool output_act) {
  for (auto* p : {&gates, &c_prev, &c, &h}) check(*p, "step_error: tensor");
  const int64_t B = c.size(0), H = c.size(1), P = h.size(1);
  const bool proj = whr.numel() > 0;
  TORCH_CHECK(gates.numel() == B * 4 * H && c_prev.numel() == B * H && h.numel() == B * P &&
                  (proj ? whr.size(0) == P && whr.size(1) == H : P == H),
              "step_error: shapes disagree");
  const float *G = gates.data_ptr<float>(), *CP = c_prev.data_ptr<float>(), *C = c.data_ptr<float>();
  const float *Hh = h.data_ptr<float>(), *WR = proj ? whr.data_ptr<float>() : nullptr;
  double bad_c = 0, bad_h = 0, top = 0;
  std::vector<double> u(H);
  auto keep = [](double& acc, double d) { acc = d > acc ? d : acc; };  // false for NaN: skipped
  for (int64_t b = 0; b < B; ++b) {
    const float* g = G + b * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      const double cj = C[b * H + j];
      keep(bad_c, std::abs(cj - (double(g[H + j]) * CP[b * H + j] + double(g[j]) * g[2 * H + j])));
      keep(top, std::abs(cj));
      u[j] = g[3 * H + j] * (output_act ? std::tanh(cj) : cj);
    }
    for (int64_t p = 0; p < P; ++p) {
      double want = 0;
      if (proj) {
        for (int64_t j = 0; j < H; ++j) want += u[j] * WR[p * H + j];
      } else {
        want = u[p];
      }
      keep(bad_h, std::abs(Hh[b * P + p] - want));
    }
  }
  return {bad_c, bad_h, 1 + top};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "lstm_core's compiled trace kernel (see lstm_core/kernel/wrapper.py)";
  m.def("pack", &pack, "W prepared for products with m rows by the GEMM chosen (0 auto, 1 mkl, 2 panel, 3 at::mm)");
  m.def("panel_gemm", &panel_gemm_built, "True if the panel GEMM (AVX2 and FMA) is built in");
  m.def("packed_gemm", &packed_gemm, "True if MKL's packed GEMM is exported by torch here");
  m.def("recur", &recur, "steps t0..t0+n-1 of one layer and direction");
  m.def("step_error", &step_error, "how far one recorded step is from the cell update");
  m.attr("PANEL_MAX_ROWS") = kPanelMaxRows;  // auto takes the panel GEMM up to this many batch rows
  m.attr("VERSION") = 1;
}
