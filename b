monitor: statistics                                      vm0
guest instructions                                3845458699
  emulated by the monitor                             932069
vm cycles                                         3945212748
  monitor cycles                                    99754049
exits                                                 991507
  cop_unusable                                        692075
  tlbmiss_ld                                           39177
  tlbmiss_st                                           11991
  tlbmod                                                  61
  syscall                                                459
  resvd_inst                                            3260
  int                                                   4476
  wait                                                     1
  cache                                               209100
  mmio                                                 30907
    emulated mfc0                                     172065
    emulated mtc0                                      56651
    emulated eret                                      10380
    emulated tlbp                                       3540
    emulated tlbr                                         32
    emulated tlbwi                                      1913
    emulated tlbwr                                      3125
    emulated di                                       313065
    emulated ei                                       131287
    emulated rdhwr                                         3
exceptions forwarded to the guest                      10380
tlb misses served by the software tlb                   8997
  share of misses on pages the vm's tlb maps          100.0%
tlb misses forwarded to the guest                       2109
  its refill written straight to the real tlb           1648
tlb refills walked from the guest's tables                 0
kseg0/kseg1 fills by the monitor                       40061
frames zeroed by the monitor                           11519
frames vouched zero (page-zeroed)                          0
first writes caught (write tracking)                       0
machine switches                                           0
idle ticks                                         188660718
spins inferred                                             4
  ticks skipped                                    188660475
stopped at clock tick                             4132935468
stopped                                            power off
virtual cycles (the clock): 4132935493
