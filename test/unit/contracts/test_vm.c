#include "check.h"
#include "fake_state.h"
int main(void) { return check_done(); }
