// Fast Fourier transforms as differentiable ops (FFTW underneath).
//
// Complex numbers are a trailing axis of 2 (re, im) on real Vars, like torch.view_as_real:
// a complex [..., n] signal is a Var of shape [..., n, 2]. The transforms act on the last
// `ndim` (1, 2 or 3) axes before that complex axis; the axes in front are a batch.
//
// Conventions are NumPy's default ("backward"): the forward transforms are unnormalised,
//   X[k] = Σ_n x[n] exp(-2πi k·n / N),
// and the inverse ones divide by N (the product of the transformed sizes). rfftn keeps the
// half spectrum along the last transformed axis (n/2 + 1 entries); irfftn reads one and needs
// the real length of that axis back (the half spectrum does not tell n = 2m-2 from 2m-1).
// irfftn reads the spectrum as NumPy does: the imaginary parts of the entries that are their
// own mirror image are ignored, and every entry of the half spectrum counts once, though
// the interior ones stand for two (their conjugate mirrors).
//
// Each op's gradient is the adjoint of its linear map (not its inverse): for fftn it is
// N·ifftn, for rfftn the half spectrum with its interior weighted by ½ fed to an unnormalised
// c2r transform, for irfftn the rfftn of the gradient weighted by 2 in the interior and by 1/N.
// Shapes that do not fit throw std::invalid_argument naming them.
#pragma once
#include <cstdint>
#include <mutex>

#include "trusty/core/tape.hpp"

namespace trusty::core {

// [..., n1, .., nd, 2] → [..., n1, .., nd, 2]
template <class T> Var<T> fftn(const Var<T>& x, int ndim);
template <class T> Var<T> ifftn(const Var<T>& x, int ndim);
// real [..., n1, .., nd] → [..., n1, .., nd/2 + 1, 2]
template <class T> Var<T> rfftn(const Var<T>& x, int ndim);
// [..., n1, .., last_size/2 + 1, 2] → real [..., n1, .., last_size]
template <class T> Var<T> irfftn(const Var<T>& x, int ndim, int64_t last_size);

// The one lock every FFTW planner call in trusty takes (FFTW's planner is not thread-safe;
// executing a plan is). Simulators that make their own plans take it too.
std::mutex& fftw_planner_mutex();

}  // namespace trusty::core
