import { describeFaults, FAULT_GROUPS } from '../support/describe-faults.ts';

describeFaults(FAULT_GROUPS.processes);
