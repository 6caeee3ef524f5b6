// Everything in layers/: include this to build networks.
#pragma once
#include "layers/activation.h"
#include "layers/conv.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/normalization.h"
#include "layers/padding.h"
#include "layers/pooling.h"
#include "layers/sequential.h"
