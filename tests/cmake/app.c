/* Links the library through rnnplast::rnnplast(_static): the header and the
   library agree on the version, and rp_net_free pulls net.o, hence CBLAS, into
   the static link.  Exit 0 on success. */
#include <rnnplast.h>
#include <stdio.h>

int main(void)
{
    rp_net_free(NULL);
    printf("librnnplast %s (%s)\n", rp_version_string(), rp_status_string(RP_OK));
    return rp_version_number() == RP_VERSION_NUMBER ? 0 : 1;
}
