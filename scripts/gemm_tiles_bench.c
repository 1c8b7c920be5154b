// Slim's own fp32 GEMM tiles (cpu_gemm.c) vs OpenBLAS, one thread each, in thread CPU time;
// checks every level and transpose against float64 first. Built by scripts/gemm_sweep.sh.
#include "cpu_gemm.h"
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {int own,ta,tb,m,n,k,lo,hi,rows; const float*a,*b; float*c; int isa;} job;
static void* run(void*p){job*j=p; int cnt=j->hi-j->lo; if(!cnt) return 0;
 if(j->rows){ const float*a=j->a+(long)j->lo*j->k; float*c=j->c+(long)j->lo*j->n;
   if(j->own) slim_sgemm(0,j->tb,cnt,j->n,j->k,1,a,j->k,j->b,j->tb?j->k:j->n,0,c,j->n,j->isa);
   else cblas_sgemm(CblasRowMajor,CblasNoTrans,j->tb?CblasTrans:CblasNoTrans,cnt,j->n,j->k,1,a,j->k,j->b,j->tb?j->k:j->n,0,c,j->n);
 } else { const float*b=j->tb? j->b+(long)j->lo*j->k : j->b+j->lo; float*c=j->c+j->lo;
   if(j->own) slim_sgemm(j->ta,j->tb,j->m,cnt,j->k,1,j->a,j->ta?j->m:j->k,b,j->tb?j->k:j->n,0,c,j->n,j->isa);
   else cblas_sgemm(CblasRowMajor,j->ta?CblasTrans:CblasNoTrans,j->tb?CblasTrans:CblasNoTrans,j->m,cnt,j->k,1,j->a,j->ta?j->m:j->k,b,j->tb?j->k:j->n,0,c,j->n);}
 return 0;}
static double gemm2(int own,int isa,int ta,int tb,int m,int n,int k,const float*a,const float*b,float*c){
  int T=1; int rows=!ta && m>=8*T && m>=n; int cnt=rows?m:n; pthread_t th[2]; job js[2];
  double t0=now();
  for(int i=0;i<T;i++){js[i]=(job){own,ta,tb,m,n,k,cnt*i/T,cnt*(i+1)/T,rows,a,b,c,isa}; if(i) pthread_create(&th[i],0,run,&js[i]);}
  run(&js[0]); for(int i=1;i<T;i++) pthread_join(th[i],0); return now()-t0;}
int main(int argc,char**argv){
  openblas_set_num_threads(1);
  // correctness at odd shapes, both transposes, every level
  int shapes[][3]={{1,1,1},{13,37,29},{97,53,300},{150,300,517},{7,2100,33}};
  for(int s=0;s<5;s++) for(int ta=0;ta<2;ta++) for(int tb=0;tb<2;tb++) for(int lv=0;lv<3;lv++){
    int m=shapes[s][0],n=shapes[s][1],k=shapes[s][2];
    float*a=malloc(4L*m*k),*b=malloc(4L*k*n),*c=malloc(4L*m*n); for(long i=0;i<(long)m*k;i++)a[i]=rand()/(float)RAND_MAX-.5f; for(long i=0;i<(long)k*n;i++)b[i]=rand()/(float)RAND_MAX-.5f;
    for(long i=0;i<(long)m*n;i++)c[i]=i%3?NAN:1;
    float beta = lv==1? 0.5f:0; if(beta) for(long i=0;i<(long)m*n;i++)c[i]=1;
    slim_sgemm(ta,tb,m,n,k,1.5f,a,ta?m:k,b,tb?k:n,beta,c,n,lv);
    double num=0,den=0; for(int i=0;i<m;i++)for(int j=0;j<n;j++){double r=beta?beta:0; double acc=0; for(int p=0;p<k;p++) acc+=(double)(ta?a[p*m+i]:a[i*k+p])*(tb?b[j*k+p]:b[p*n+j]); r+=1.5*acc; double d=c[i*n+j]-r; num+=d*d; den+=r*r;}
    if(!(num/den<1e-12)) printf("FAIL %d %d %d ta%d tb%d lv%d nmse %g\n",m,n,k,ta,tb,lv,num/den);
    free(a);free(b);free(c);}
  printf("correctness done, level %d\n", slim_gemm_level(2));
  int S[][5]={{2048,2048,2048,0,0},{64,4096,4096,0,0},{2048,1536,384,0,0},{2048,384,1536,0,0},{2048,1152,384,0,0},{2048,384,1536,0,1},{384,1536,2048,1,0}};
  int reps=argc>1?atoi(argv[1]):3;
  for(int s=0;s<7;s++){int m=S[s][0],n=S[s][1],k=S[s][2],ta=S[s][3],tb=S[s][4];
    float*a=malloc(4L*m*k),*b=malloc(4L*k*n),*c=malloc(4L*m*n); for(long i=0;i<(long)m*k;i++)a[i]=rand()/(float)RAND_MAX; for(long i=0;i<(long)k*n;i++)b[i]=rand()/(float)RAND_MAX;
    double best[4]={1e9,1e9,1e9,1e9};
    for(int r=0;r<reps+1;r++){ double t;
      t=gemm2(1,2,ta,tb,m,n,k,a,b,c); if(r&&t<best[0])best[0]=t;
      t=gemm2(0,2,ta,tb,m,n,k,a,b,c); if(r&&t<best[1])best[1]=t;
      t=gemm2(1,1,ta,tb,m,n,k,a,b,c); if(r&&t<best[2])best[2]=t;
    }
    double f=2.0*m*n*k/1e9;
    printf("%dx%dx%d ta%d tb%d: own-avx512 %.1f  openblas(split) %.1f  own-avx2 %.1f GFLOP/s\n",m,n,k,ta,tb,f/best[0],f/best[1],f/best[2]);
    free(a);free(b);free(c);}
}
