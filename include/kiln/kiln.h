#pragma once
// The one header of kiln: a lazy, graph-compiling tensor engine with libtorch's C++ API.
#include "kiln/array_ref.h"
#include "kiln/autograd.h"
#include "kiln/device.h"
#include "kiln/error.h"
#include "kiln/indexing.h"
#include "kiln/ops.h"
#include "kiln/options.h"
#include "kiln/runtime.h"
#include "kiln/scalar.h"
#include "kiln/scalar_type.h"
#include "kiln/tensor.h"
#include "kiln/tensor_data.h"
