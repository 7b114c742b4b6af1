"""`resnet-studio bench` and its kin, driving the engine from outside: training throughput against
hand-written loops (`throughput`, timed in alternating rounds by `rounds`), a user's photos
(`photos`, on generated photo-like folders: `photolike`), transfer learning (`transfer`), and bf16
against float32 at equal steps (`precision_check`)."""
