/* Multiresolution hash-grid encoding on the CPU: one fused pass per call.
 *
 * Why C and not PyTorch ops: the reference backend builds each level's corner rows, weights, gathers and
 * scatter as separate tensor ops, each writing an [8, N] intermediate to memory and reading it back. Here
 * a point's 8 corners are hashed, weighted and summed in registers, and the table rows a group of points
 * needs are prefetched before they are read (a hashed level's slice of the table does not fit in L2). Built by the user's own C
 * compiler on first use (native_backend.py) and loaded with ctypes: no Python headers, no torch headers,
 * so it compiles in about a second.
 *
 * Semantics are tiny-cuda-nn's and the reference's (geometry.py): position x*scale + 0.5 in float32,
 * uint32 wrapping arithmetic, dense index x + y*res + z*res^2 or the spatial hash
 * x ^ y*2654435761 ^ z*805459861, modulo the level's size, offset into one [S, F] table.
 *
 * Threads: the forward is parallel over points; the backward over levels, because each level owns a
 * disjoint slice of the table, so its gradient is scattered without atomics or per-thread copies.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_F 8

static inline uint32_t corner_row(uint32_t cx, uint32_t cy, uint32_t cz, uint32_t res, uint32_t size, int dense) {
    uint32_t h;
    if (dense) {
        h = cx + cy * res + cz * (res * res);
    } else {
        h = cx ^ (cy * 2654435761u) ^ (cz * 805459861u);
    }
    /* A division costs more than the rest of the corner: power-of-two tables (every hashed level) mask, and
     * rows just past the end (dense levels inside the unit cube) take one subtraction. */
    if ((size & (size - 1)) == 0) return h & (size - 1);
    if (h < 2 * size && h >= size) return h - size;
    return h < size ? h : h % size;
}

/* Cell corner coordinates and fractions of one point on one level. */
static inline void locate(const float *p, float scale, uint32_t lo[3], float fr[3]) {
    for (int d = 0; d < 3; d++) {
        float pos = p[d] * scale + 0.5f;
        float fl = floorf(pos);
        fr[d] = pos - fl;
        lo[d] = (uint32_t)(int64_t)fl;
    }
}

int hg_max_features(void) { return MAX_F; }

int hg_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* The bodies take F as an argument and are inlined into callers that pass a constant 2 (Instant-NGP's
 * features per level) or the runtime F, so the common case gets its feature loops unrolled. */
#define INLINE static inline __attribute__((always_inline))

/* out[n, L*F] = Σ_corners w · table[row] · weights[l]; levels with weight 0 give 0. */
/* Points are looked up in groups: the group's corner rows are computed and prefetched first, then read, so
 * the cache misses of hashed levels (a level's table slice outgrows L2) overlap instead of queueing. */
#define GROUP 16

/* Corner rows and fractions of the points [g0, min(g0 + GROUP, end)) on one level; each row is prefetched
 * from ``read`` and/or, for writing, from ``write`` (either may be NULL). Returns the group's size. */
INLINE int locate_group(const float *x, int64_t g0, int64_t end, float scale, uint32_t rl, uint32_t sl, int dl,
                        int F, const float *read, float *write, uint32_t rows[GROUP][8], float fr[GROUP][3]) {
    const int gn = (int)(end - g0 < GROUP ? end - g0 : GROUP);
    for (int k = 0; k < gn; k++) {
        uint32_t lo[3];
        locate(x + 3 * (g0 + k), scale, lo, fr[k]);
        for (int c = 0; c < 8; c++) {
            rows[k][c] = corner_row(lo[0] + ((c >> 2) & 1), lo[1] + ((c >> 1) & 1), lo[2] + (c & 1), rl, sl, dl);
            if (read) __builtin_prefetch(read + (int64_t)rows[k][c] * F);
            if (write) __builtin_prefetch(write + (int64_t)rows[k][c] * F, 1);
        }
    }
    return gn;
}

INLINE void forward_impl(const float *x, int64_t n, const float *table, int F, int L, const float *scales,
                const uint32_t *res, const uint32_t *sizes, const int32_t *dense, const int64_t *offsets,
                const float *weights, float *out, int threads) {
    /* Blocks of points in parallel; inside a block, one level at a time, so that level's slice of the table
     * stays as warm as it can while its points are looked up. */
    const int64_t block = 2048;
    const int64_t blocks = (n + block - 1) / block;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t i0 = b * block, i1 = i0 + block < n ? i0 + block : n;
        for (int l = 0; l < L; l++) {
            const float wl = weights[l], scale = scales[l];
            const uint32_t rl = res[l], sl = sizes[l];
            const int dl = dense[l];
            const float *tl = table + offsets[l] * F;
            if (wl == 0.0f) {
                for (int64_t i = i0; i < i1; i++)
                    for (int f = 0; f < F; f++) out[i * (int64_t)L * F + l * F + f] = 0.0f;
                continue;
            }
            for (int64_t g0 = i0; g0 < i1; g0 += GROUP) {
                uint32_t rows[GROUP][8];
                float fr[GROUP][3];
                const int gn = locate_group(x, g0, i1, scale, rl, sl, dl, F, tl, 0, rows, fr);
                for (int k = 0; k < gn; k++) {
                    float acc[MAX_F] = {0};
                    for (int c = 0; c < 8; c++) {
                        int bx = (c >> 2) & 1, by = (c >> 1) & 1, bz = c & 1;
                        float w = (bx ? fr[k][0] : 1.0f - fr[k][0]) * (by ? fr[k][1] : 1.0f - fr[k][1]) *
                                  (bz ? fr[k][2] : 1.0f - fr[k][2]);
                        const float *t = tl + (int64_t)rows[k][c] * F;
                        for (int f = 0; f < F; f++) acc[f] += t[f] * w;
                    }
                    float *o = out + (g0 + k) * (int64_t)L * F + l * F;
                    for (int f = 0; f < F; f++) o[f] = acc[f] * wl;
                }
            }
        }
    }
}

void hg_forward(const float *x, int64_t n, const float *table, int F, int L, const float *scales,
                const uint32_t *res, const uint32_t *sizes, const int32_t *dense, const int64_t *offsets,
                const float *weights, float *out, int threads) {
    if (F == 2)
        forward_impl(x, n, table, 2, L, scales, res, sizes, dense, offsets, weights, out, threads);
    else
        forward_impl(x, n, table, F, L, scales, res, sizes, dense, offsets, weights, out, threads);
}

/* Gradients of the forward given dL/dout g[n, L*F]:
 *   grad_table[S, F] (zeroed by the caller; NULL = not needed) += w · weights[l] · g
 *   grad_x[n, 3] (NULL = not needed) = Σ_l scale_l · dL/dfrac, with scratch[L, n, 3] for the per-level terms. */
INLINE void backward_impl(const float *x, int64_t n, const float *table, int F, int L, const float *scales,
                 const uint32_t *res, const uint32_t *sizes, const int32_t *dense, const int64_t *offsets,
                 const float *weights, const float *g, float *grad_table, float *grad_x, float *scratch,
                 int threads) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (int l = 0; l < L; l++) {
        const float wl = weights[l], scale = scales[l];
        const uint32_t rl = res[l], sl = sizes[l];
        const int dl = dense[l];
        const float *tl = table + offsets[l] * F;
        float *gtl = grad_table ? grad_table + offsets[l] * F : 0;
        float *gxl = grad_x ? scratch + (int64_t)l * n * 3 : 0;
        if (wl == 0.0f) {
            if (gxl) memset(gxl, 0, sizeof(float) * 3 * (size_t)n);
            continue;
        }
        for (int64_t g0 = 0; g0 < n; g0 += GROUP) {
            uint32_t rows[GROUP][8];
            float fr[GROUP][3];
            const int gn = locate_group(x, g0, n, scale, rl, sl, dl, F, gxl ? tl : 0, gtl, rows, fr);
            for (int k = 0; k < gn; k++) {
                const int64_t i = g0 + k;
                float gl[MAX_F];
                for (int f = 0; f < F; f++) gl[f] = g[(i * L + l) * F + f] * wl;
                float dfr[3] = {0.0f, 0.0f, 0.0f};
                for (int c = 0; c < 8; c++) {
                    int bx = (c >> 2) & 1, by = (c >> 1) & 1, bz = c & 1;
                    float wx = bx ? fr[k][0] : 1.0f - fr[k][0];
                    float wy = by ? fr[k][1] : 1.0f - fr[k][1];
                    float wz = bz ? fr[k][2] : 1.0f - fr[k][2];
                    const int64_t row = (int64_t)rows[k][c] * F;
                    if (gtl) {
                        float w = wx * wy * wz;
                        for (int f = 0; f < F; f++) gtl[row + f] += w * gl[f];
                    }
                    if (gxl) {
                        float dot = 0.0f;
                        for (int f = 0; f < F; f++) dot += tl[row + f] * gl[f];
                        /* d(wx)/d(fx) = ±1 */
                        dfr[0] += (bx ? dot : -dot) * wy * wz;
                        dfr[1] += (by ? dot : -dot) * wx * wz;
                        dfr[2] += (bz ? dot : -dot) * wx * wy;
                    }
                }
                if (gxl)
                    for (int d = 0; d < 3; d++) gxl[i * 3 + d] = dfr[d] * scale;
            }
        }
    }
    if (grad_x) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (int64_t j = 0; j < n * 3; j++) {
            float s = 0.0f;
            for (int l = 0; l < L; l++) s += scratch[(int64_t)l * n * 3 + j];
            grad_x[j] = s;
        }
    }
}

void hg_backward(const float *x, int64_t n, const float *table, int F, int L, const float *scales,
                 const uint32_t *res, const uint32_t *sizes, const int32_t *dense, const int64_t *offsets,
                 const float *weights, const float *g, float *grad_table, float *grad_x, float *scratch,
                 int threads) {
    if (F == 2)
        backward_impl(x, n, table, 2, L, scales, res, sizes, dense, offsets, weights, g, grad_table, grad_x,
                      scratch, threads);
    else
        backward_impl(x, n, table, F, L, scales, res, sizes, dense, offsets, weights, g, grad_table, grad_x,
                      scratch, threads);
}
