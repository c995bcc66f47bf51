// Everything in trusty::core: tensors, the autodiff tape, ops, linear algebra, checks.
#pragma once
#include "trusty/core/fft.hpp"
#include "trusty/core/grad_check.hpp"
#include "trusty/core/linalg.hpp"
#include "trusty/core/ops.hpp"
#include "trusty/core/tape.hpp"
#include "trusty/core/tensor.hpp"
