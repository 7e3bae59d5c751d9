#include "proxy/stats.h"

namespace graymesh::proxy {

void WorkerStats::CountError(int status) {
  switch (status) {
    case 400: rq_error_400.Inc(); break;
    case 404: rq_error_404.Inc(); break;
    case 408: rq_error_408.Inc(); break;
    case 413: rq_error_413.Inc(); break;
    case 431: rq_error_431.Inc(); break;
    case 501: rq_error_501.Inc(); break;
    case 502: rq_error_502.Inc(); break;
    case 503: rq_error_503.Inc(); break;
    case 504: rq_error_504.Inc(); break;
    case 505: rq_error_505.Inc(); break;
    default: break;
  }
}

}  // namespace graymesh::proxy
