"""The dashboard for managers and engineers: sign-in, Now, Cases, Case, Rota, Misuse, Reports."""
