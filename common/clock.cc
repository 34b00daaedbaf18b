#include "common/clock.h"

namespace gantry {

Clock* RealClock::Get() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace gantry
