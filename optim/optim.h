// Everything in optim/: optimizers, gradient clipping, learning-rate schedules.
#pragma once
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/lbfgs.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"
#include "optim/sgd.h"
