"""Processing jobs: the job store (``store``), input resolution and URL checks
(``inputs``, ``urls``), the Dask runner (``executor``) and the embedded cluster child
(``cluster``). Both processing front ends (``ogcsdl.processing``) sit on these."""
